"""tf_keras text classifiers over token ids: a BERT-style encoder and a GPT-2-style decoder.

Both are functional models of stock tf_keras layers (Embedding, MultiHeadAttention, Dense,
LayerNormalization, ...) plus three small weightless layers defined here (position ids,
attention mask, masked mean), so that they save as .keras files, convert to .tflite with
int32 token input, and can be pruned and clustered by tfmot, whole or layer by layer.
Importing this module does not import TensorFlow; the custom layers are defined and
registered by `custom_objects()` on first use.
"""
from __future__ import annotations

import inspect
import logging
from functools import lru_cache
from typing import Any

from compleak_tf.data.dataset import Dataset, Modality
from compleak_tf.errors import CompleakError
from compleak_tf.models import Architecture, register_architecture
from compleak_tf.models.encoders import InputEncoder
from compleak_tf.models.tokenizers import PAD_ID, BytePairEncoder, WordPieceEncoder

logger = logging.getLogger(__name__)

__all__ = ["build_bert", "build_gpt2", "custom_objects"]

POOLINGS = ("mean", "first")


@lru_cache(maxsize=None)
def custom_objects() -> dict[str, type]:
    """Defines and registers the custom layers of the text models; returns them by name.

    Registration (package "compleak_tf") lets tf_keras.models.load_model rebuild a saved
    text model in any process that has called this function.
    """
    from compleak_tf.tfcompat import keras, tf

    tf_, keras_ = tf(), keras()
    register = keras_.saving.register_keras_serializable(package="compleak_tf")

    class _Weightless(keras_.layers.Layer):
        """A layer without weights that tells tfmot's pruning wrapper it has none to prune."""

        def get_prunable_weights(self) -> list:
            return []

    @register
    class PositionIds(_Weightless):
        """Positions 0..L-1 for each sequence of token ids, as int32 (batch, L)."""

        def call(self, token_ids):
            positions = tf_.range(tf_.shape(token_ids)[1], dtype=tf_.int32)
            return tf_.zeros_like(token_ids, dtype=tf_.int32) + positions[None, :]

    @register
    class AttentionMask(_Weightless):
        """Boolean (batch, query, key) attention mask from token ids.

        Keys that are padding are hidden from every query; with `causal=True`, so are keys
        after the query. Padding queries see nothing (their rows are never read).
        """

        def __init__(self, causal: bool = False, pad_id: int = PAD_ID, **kwargs) -> None:
            super().__init__(**kwargs)
            self.causal = bool(causal)
            self.pad_id = int(pad_id)

        def call(self, token_ids):
            keys = tf_.not_equal(token_ids, self.pad_id)[:, None, :]
            length = tf_.shape(token_ids)[1]
            if self.causal:
                positions = tf_.range(length)
                allowed = positions[None, :] <= positions[:, None]
            else:
                allowed = tf_.ones((length, length), dtype=tf_.bool)
            return tf_.logical_and(keys, allowed[None, :, :])

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "causal": self.causal, "pad_id": self.pad_id}

    @register
    class MaskedAveragePooling(_Weightless):
        """Mean of the hidden states over the positions whose token is not padding."""

        def __init__(self, pad_id: int = PAD_ID, **kwargs) -> None:
            super().__init__(**kwargs)
            self.pad_id = int(pad_id)

        def call(self, inputs):
            hidden, token_ids = inputs
            weights = tf_.cast(tf_.not_equal(token_ids, self.pad_id), hidden.dtype)[..., None]
            total = tf_.reduce_sum(hidden * weights, axis=1)
            return total / tf_.maximum(tf_.reduce_sum(weights, axis=1), 1.0)

        def compute_output_shape(self, input_shape):
            hidden_shape = input_shape[0]
            return (hidden_shape[0], hidden_shape[-1])

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "pad_id": self.pad_id}

    return {cls.__name__: cls for cls in (PositionIds, AttentionMask, MaskedAveragePooling)}


def _check_sizes(sequence_length: int, vocabulary_size: int, num_classes: int, embed_dim: int,
                 num_heads: int, ffn_dim: int, num_blocks: int, dropout: float) -> None:
    if sequence_length < 2 or vocabulary_size < 2 or num_classes < 2:
        raise CompleakError(
            f"text models need sequence_length >= 2, vocabulary_size >= 2 and >= 2 classes; "
            f"got {sequence_length}, {vocabulary_size}, {num_classes}"
        )
    if min(embed_dim, num_heads, ffn_dim, num_blocks) < 1:
        raise CompleakError("embed_dim, num_heads, ffn_dim and num_blocks must be positive")
    if embed_dim % num_heads:
        raise CompleakError(
            f"embed_dim {embed_dim} is not divisible by num_heads {num_heads}; pick sizes "
            "where it is"
        )
    if not 0.0 <= dropout < 1.0:
        raise CompleakError(f"dropout must lie in [0, 1), got {dropout}")


def _embed(token_ids, sequence_length: int, vocabulary_size: int, embed_dim: int):
    """Token plus learned position embeddings, both stock Embedding layers that tfmot wraps."""
    from compleak_tf.tfcompat import keras

    layers = keras().layers
    tokens = layers.Embedding(vocabulary_size, embed_dim, name="token_embedding")(token_ids)
    positions = custom_objects()["PositionIds"](name="position_ids")(token_ids)
    positions = layers.Embedding(sequence_length, embed_dim, name="position_embedding")(
        positions)
    return layers.Add(name="embedding_add")([tokens, positions])


def _attention(x, mask, embed_dim: int, num_heads: int, dropout: float, name: str):
    from compleak_tf.tfcompat import keras

    attention = keras().layers.MultiHeadAttention(
        num_heads, key_dim=embed_dim // num_heads, dropout=dropout, name=name)
    # The query goes as the one positional argument, everything else by keyword: tfmot's
    # pruning and clustering wrappers forward a single positional input to the layer.
    return attention(x, value=x, attention_mask=mask)


def build_bert(sequence_length: int, vocabulary_size: int, num_classes: int, *,
               embed_dim: int = 64, num_heads: int = 2, ffn_dim: int = 128,
               num_blocks: int = 1, pooling: str = "mean", dropout: float = 0.1):
    """BERT-style encoder classifier (Devlin et al., NAACL 2019), post-LayerNorm blocks.

    Token and learned position embeddings, then `num_blocks` blocks of bidirectional
    self-attention over non-padding tokens and a GELU feed-forward layer, each followed by a
    residual sum and LayerNorm; the class comes from the mean of the non-padding positions
    (`pooling="mean"`) or from the first position, `[CLS]` (`pooling="first"`).

    Args:
      sequence_length: token ids per example (right-padded with 0).
      vocabulary_size: size of the token embedding table.
      num_classes: softmax outputs.
      embed_dim, num_heads, ffn_dim, num_blocks: transformer sizes.
      pooling: "mean" or "first".
      dropout: dropout after embeddings, attention and feed-forward layers.
    """
    from compleak_tf.tfcompat import keras

    _check_sizes(sequence_length, vocabulary_size, num_classes, embed_dim, num_heads, ffn_dim,
                 num_blocks, dropout)
    if pooling not in POOLINGS:
        raise CompleakError(f"unknown pooling {pooling!r}; use one of: {', '.join(POOLINGS)}")
    layers, custom = keras().layers, custom_objects()

    token_ids = layers.Input(shape=(sequence_length,), dtype="int32", name="token_ids")
    x = _embed(token_ids, sequence_length, vocabulary_size, embed_dim)
    x = layers.LayerNormalization(epsilon=1e-6, name="embedding_norm")(x)
    x = layers.Dropout(dropout, name="embedding_dropout")(x)
    mask = custom["AttentionMask"](causal=False, name="attention_mask")(token_ids)

    for block in range(1, num_blocks + 1):
        name = f"block{block}"
        attended = _attention(x, mask, embed_dim, num_heads, dropout, f"{name}_attention")
        attended = layers.Dropout(dropout, name=f"{name}_attention_dropout")(attended)
        x = layers.Add(name=f"{name}_attention_add")([x, attended])
        x = layers.LayerNormalization(epsilon=1e-6, name=f"{name}_attention_norm")(x)
        hidden = layers.Dense(ffn_dim, activation="gelu", name=f"{name}_ffn_in")(x)
        hidden = layers.Dense(embed_dim, name=f"{name}_ffn_out")(hidden)
        hidden = layers.Dropout(dropout, name=f"{name}_ffn_dropout")(hidden)
        x = layers.Add(name=f"{name}_ffn_add")([x, hidden])
        x = layers.LayerNormalization(epsilon=1e-6, name=f"{name}_ffn_norm")(x)

    if pooling == "mean":
        pooled = custom["MaskedAveragePooling"](name="pool")([x, token_ids])
    else:
        pooled = layers.Cropping1D((0, sequence_length - 1), name="first_token")(x)
        pooled = layers.Flatten(name="pool")(pooled)
    outputs = layers.Dense(num_classes, activation="softmax", name="probs")(pooled)
    return keras().Model(token_ids, outputs, name="bert")


def build_gpt2(sequence_length: int, vocabulary_size: int, num_classes: int, *,
               embed_dim: int = 64, num_heads: int = 2, ffn_dim: int = 256,
               num_blocks: int = 1, dropout: float = 0.1):
    """GPT-2-style decoder classifier (Radford et al., 2019), pre-LayerNorm blocks.

    Token and learned position embeddings, then `num_blocks` blocks of LayerNorm, causal
    self-attention over non-padding tokens and a residual sum, then LayerNorm, a GELU
    feed-forward layer and a residual sum; a final LayerNorm. Inputs are left-padded, so
    the last position holds the last real token (the end-of-text token of
    `BytePairEncoder`), which has attended to the whole text; the class comes from it.

    Args:
      sequence_length: token ids per example (left-padded with 0).
      vocabulary_size: size of the token embedding table.
      num_classes: softmax outputs.
      embed_dim, num_heads, ffn_dim, num_blocks: transformer sizes.
      dropout: dropout after embeddings, attention and feed-forward layers.
    """
    from compleak_tf.tfcompat import keras

    _check_sizes(sequence_length, vocabulary_size, num_classes, embed_dim, num_heads, ffn_dim,
                 num_blocks, dropout)
    layers, custom = keras().layers, custom_objects()

    token_ids = layers.Input(shape=(sequence_length,), dtype="int32", name="token_ids")
    x = _embed(token_ids, sequence_length, vocabulary_size, embed_dim)
    x = layers.Dropout(dropout, name="embedding_dropout")(x)
    mask = custom["AttentionMask"](causal=True, name="causal_mask")(token_ids)

    for block in range(1, num_blocks + 1):
        name = f"block{block}"
        normed = layers.LayerNormalization(epsilon=1e-5, name=f"{name}_attention_norm")(x)
        attended = _attention(normed, mask, embed_dim, num_heads, dropout,
                              f"{name}_attention")
        attended = layers.Dropout(dropout, name=f"{name}_attention_dropout")(attended)
        x = layers.Add(name=f"{name}_attention_add")([x, attended])
        normed = layers.LayerNormalization(epsilon=1e-5, name=f"{name}_ffn_norm")(x)
        hidden = layers.Dense(ffn_dim, activation="gelu", name=f"{name}_ffn_in")(normed)
        hidden = layers.Dense(embed_dim, name=f"{name}_ffn_out")(hidden)
        hidden = layers.Dropout(dropout, name=f"{name}_ffn_dropout")(hidden)
        x = layers.Add(name=f"{name}_ffn_add")([x, hidden])

    x = layers.LayerNormalization(epsilon=1e-5, name="final_norm")(x)
    last = layers.Cropping1D((sequence_length - 1, 0), name="last_token")(x)
    last = layers.Flatten(name="pool")(last)
    outputs = layers.Dense(num_classes, activation="softmax", name="probs")(last)
    return keras().Model(token_ids, outputs, name="gpt2")


def _build_from_encoder(builder, wanted: type):
    """An Architecture.build: sizes from the fitted encoder, options checked by name."""
    known = [name for name, parameter in inspect.signature(builder).parameters.items()
             if parameter.kind is inspect.Parameter.KEYWORD_ONLY]

    def build(encoder: InputEncoder, num_classes: int, **options: Any):
        if not isinstance(encoder, wanted):
            raise CompleakError(
                f"{builder.__name__} takes a {wanted.kind} encoder, got {encoder.kind!r}; use "
                "the architecture's own make_encoder"
            )
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise CompleakError(
                f"unknown option(s) {', '.join(unknown)} for {builder.__name__}; known: "
                f"{', '.join(known)} (sequence length and vocabulary come from the encoder)"
            )
        return builder(encoder.sequence_length, encoder.vocabulary_size, num_classes,
                       **options)

    return build


def _wordpiece(dataset: Dataset) -> InputEncoder:
    return WordPieceEncoder()


def _bytepair(dataset: Dataset) -> InputEncoder:
    return BytePairEncoder()


_TEXT = frozenset({Modality.TEXT})
register_architecture(Architecture(
    "bert", _TEXT, _build_from_encoder(build_bert, WordPieceEncoder), _wordpiece,
    "BERT-style encoder (1 block, width 64) on WordPiece ids, mean-pooled",
    epochs=15, batch_size=64, learning_rate=1e-3,
    options={"embed_dim": 64, "num_heads": 2, "ffn_dim": 128, "num_blocks": 1,
             "pooling": "mean", "dropout": 0.1}))
register_architecture(Architecture(
    "gpt2", _TEXT, _build_from_encoder(build_gpt2, BytePairEncoder), _bytepair,
    "GPT-2-style causal decoder (1 block, width 64) on byte-pair ids, last-token head",
    epochs=15, batch_size=64, learning_rate=1e-3,
    options={"embed_dim": 64, "num_heads": 2, "ffn_dim": 256, "num_blocks": 1,
             "dropout": 0.1}))
