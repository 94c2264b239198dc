"""Text models on AG News: token encoders, BERT- and GPT-2-style classifiers, LiteRT, tfmot."""
from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pytest

from compleak_tf.data import load_dataset
from compleak_tf.errors import CompleakError
from compleak_tf.models import architecture, build_model, load_encoder, load_model, save_model
from compleak_tf.models.text import custom_objects
from compleak_tf.models.tokenizers import (
    BytePairEncoder,
    WordPieceEncoder,
    byte_symbols,
    learn_byte_pair_merges,
)
from compleak_tf.tfcompat import keras, set_seed, tf, tfmot
from compleak_tf.training import compile_model

FIT_TEXTS = 300
SEQUENCE_LENGTH = 48


@pytest.fixture(scope="module")
def ag_news(ag_news_csv):
    """AG News texts and labels in a fixed random order (the file is sorted by nothing)."""
    dataset = load_dataset(f"csv:{ag_news_csv}")
    order = np.random.RandomState(0).permutation(len(dataset))
    return dataset.x[order], dataset.y[order]


@pytest.fixture(scope="module")
def encoders(ag_news):
    texts = ag_news[0][:FIT_TEXTS]
    return {
        "bert": WordPieceEncoder(sequence_length=SEQUENCE_LENGTH).fit(texts),
        "gpt2": BytePairEncoder(sequence_length=SEQUENCE_LENGTH, vocabulary_size=1500).fit(texts),
    }


def _unseen_word(fitted: np.ndarray, others: np.ndarray) -> str:
    """The most frequent word of `others` that is not even a substring of the fitted texts."""
    seen = " ".join(fitted).lower()
    counts = Counter(w for t in others for w in re.findall(r"[a-z]{6,}", t.lower()))
    return next(w for w, _ in counts.most_common() if w not in seen)


def _convert(model, path):
    path.write_bytes(tf().lite.TFLiteConverter.from_keras_model(model).convert())
    from compleak_tf.inference import TFLiteModel

    return TFLiteModel(path)


# Token encoders -----------------------------------------------------------------------------

def test_byte_pair_learner_follows_counts_then_string_order():
    # Words "aaab" and " aab": pair (a, a) occurs 3 times and is merged first; afterwards
    # (a, b), (aa, a), (aa, b) and (Ġ, aa) occur once each, and the tie goes to (a, b).
    vocabulary, merges = learn_byte_pair_merges(["aaab aab"], 259, special_tokens=("<p>",),
                                                min_frequency=1)
    assert merges == ["a a", "a b"]
    assert vocabulary[0] == "<p>" and vocabulary[1:257] == list(byte_symbols())
    assert vocabulary[257:] == ["aa", "ab"]
    assert learn_byte_pair_merges(["aaab aab"], 300, min_frequency=2)[1] == ["a a"]
    assert byte_symbols()[ord(" ")] == "Ġ" and byte_symbols()[ord("a")] == "a"


@pytest.mark.parametrize("kind", ["bert", "gpt2"])
def test_encoders_are_deterministic_and_survive_save_load(kind, encoders, ag_news, tmp_path):
    encoder = encoders[kind]
    texts = ag_news[0][FIT_TEXTS:FIT_TEXTS + 200]
    ids = encoder.transform(texts)
    assert ids.dtype == np.int32 and ids.shape == (200, SEQUENCE_LENGTH)
    assert ids.min() >= 0 and ids.max() < encoder.vocabulary_size

    refit = type(encoder)(sequence_length=SEQUENCE_LENGTH,
                          vocabulary_size=encoder.max_vocabulary_size)
    refit.fit(ag_news[0][:FIT_TEXTS])
    assert refit.config() == encoder.config()

    encoder.save(tmp_path / "encoder.json")
    loaded = load_encoder(tmp_path / "encoder.json")
    assert type(loaded) is type(encoder)
    np.testing.assert_array_equal(loaded.transform(texts), ids)


def test_wordpiece_layout_and_known_words(encoders):
    encoder = encoders["bert"]
    vocabulary = encoder.config()["vocabulary"]
    ids = encoder.transform(np.array(["The SAID of to on", ""]))
    expected = [encoder.cls_id] + [vocabulary.index(w) for w in ("the", "said", "of", "to", "on")]
    assert ids[0, :6].tolist() == expected
    assert not ids[0, 6:].any() and ids[1].tolist() == [encoder.cls_id] + [0] * 47
    long = encoder.transform(np.array([" ".join(["the"] * 200)]))
    assert long[0, 0] == encoder.cls_id and (long[0, 1:] == vocabulary.index("the")).all()


def test_bytepair_layout_known_words_and_exact_decoding(encoders, ag_news):
    encoder = encoders["gpt2"]
    vocabulary = encoder.config()["vocabulary"]
    ids = encoder.transform(np.array([" The SAID of"]))[0]
    expected = [vocabulary.index(t) for t in ("Ġthe", "Ġsaid", "Ġof")] + [encoder.end_id]
    assert ids[-4:].tolist() == expected and not ids[:-4].any()

    # Every byte has a token, so decoding the ids gives back the lowercased text exactly.
    texts = list(ag_news[0][FIT_TEXTS:FIT_TEXTS + 50])
    rows = encoder.token_ids(texts)
    decoded = encoder._tokenizer.detokenize(rows)
    assert [str(d) for d in decoded] == [t.lower() for t in texts]
    mean_length = np.mean([len(r) for r in rows])
    assert mean_length < 0.5 * np.mean([len(t.encode()) for t in texts])


@pytest.mark.parametrize("kind", ["bert", "gpt2"])
def test_encoders_learn_only_from_the_texts_they_are_given(kind, encoders, ag_news):
    encoder = encoders[kind]
    fitted, others = ag_news[0][:FIT_TEXTS], ag_news[0][FIT_TEXTS:]
    word = _unseen_word(fitted, others)
    tokens = set(encoder.config()["vocabulary"])
    assert word not in tokens and "Ġ" + word not in tokens
    assert len(encoder.token_ids([word])[0]) > 1


def test_unfitted_encoder_is_a_user_error():
    with pytest.raises(CompleakError, match="call fit"):
        WordPieceEncoder().transform(np.array(["text"]))


# Models -------------------------------------------------------------------------------------

def test_attention_mask_and_masked_mean_match_numpy():
    layers = custom_objects()
    ids = np.array([[0, 0, 5, 6], [3, 4, 0, 0]], dtype=np.int32)
    causal = layers["AttentionMask"](causal=True)(ids).numpy()
    keys = ids[:, None, :] != 0
    np.testing.assert_array_equal(causal, keys & np.tril(np.ones((4, 4), bool))[None])
    full = layers["AttentionMask"](causal=False)(ids).numpy()
    np.testing.assert_array_equal(full, np.broadcast_to(keys, (2, 4, 4)))

    hidden = np.random.RandomState(1).normal(size=(2, 4, 3)).astype(np.float32)
    pooled = layers["MaskedAveragePooling"]()([hidden, ids]).numpy()
    np.testing.assert_allclose(pooled, [hidden[0, 2:].mean(0), hidden[1, :2].mean(0)],
                               rtol=1e-6)


def test_bad_model_options_are_user_errors(encoders):
    with pytest.raises(CompleakError, match="not divisible"):
        build_model("bert", encoders["bert"], 4, embed_dim=63)
    with pytest.raises(CompleakError, match="unknown option"):
        build_model("gpt2", encoders["gpt2"], 4, sequence_length=10)
    with pytest.raises(CompleakError, match="wordpiece encoder"):
        build_model("bert", encoders["gpt2"], 4)


@pytest.mark.parametrize("kind, options", [("bert", {}), ("gpt2", {}),
                                           ("bert", {"pooling": "first", "num_blocks": 2})])
def test_model_trains_saves_and_matches_litert(kind, options, encoders, ag_news, tmp_path):
    encoder = encoders[kind]
    x, y = encoder.transform(ag_news[0][:FIT_TEXTS]), ag_news[1][:FIT_TEXTS]
    set_seed(0)
    model = build_model(kind, encoder, 4, **options)
    assert model.input.dtype == tf().int32 and model.output.shape[-1] == 4
    compile_model(model, 1e-3)
    before = [w.copy() for w in model.get_weights()]
    history = model.fit(x, y, epochs=1, batch_size=64, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert all(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))

    probs = model.predict(x, verbose=0)
    loaded = load_model(save_model(model, tmp_path / "model.keras"))
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), probs)

    lite = _convert(model, tmp_path / "model.tflite")
    assert lite.input_dtype == np.int32 and lite.input_shape == (SEQUENCE_LENGTH,)
    for batch_size in (1, 7, 64):
        np.testing.assert_allclose(lite.predict(x[:100], batch_size=batch_size), probs[:100],
                                   atol=1e-5)


@pytest.mark.parametrize("kind", ["bert", "gpt2"])
def test_tfmot_prunes_and_clusters_every_layer(kind, encoders, ag_news, tmp_path):
    mot, tf_keras = tfmot(), keras()
    encoder = encoders[kind]
    x, y = encoder.transform(ag_news[0][:128]), ag_news[1][:128]
    set_seed(0)
    model = build_model(kind, encoder, 4)

    pruned = mot.sparsity.keras.prune_low_magnitude(
        model, pruning_schedule=mot.sparsity.keras.ConstantSparsity(0.8, 0, frequency=1))
    compile_model(pruned, 1e-4)
    pruned.fit(x, y, epochs=1, batch_size=64, verbose=0,
               callbacks=[mot.sparsity.keras.UpdatePruningStep()])
    pruned = mot.sparsity.keras.strip_pruning(pruned)
    attention = pruned.get_layer("block1_attention")
    assert isinstance(attention, tf_keras.layers.MultiHeadAttention)
    for layer in (attention, pruned.get_layer("token_embedding"), pruned.get_layer("probs")):
        kernel = layer.get_weights()[0]
        assert abs(np.mean(kernel == 0) - 0.8) < 0.01, layer.name

    clustered = mot.clustering.keras.cluster_weights(
        model, number_of_clusters=8,
        cluster_centroids_init=mot.clustering.keras.CentroidInitialization.LINEAR)
    compile_model(clustered, 1e-4)
    clustered.fit(x, y, epochs=1, batch_size=64, verbose=0)
    clustered = mot.clustering.keras.strip_clustering(clustered)
    for name in ("block1_ffn_in", "token_embedding", "position_embedding"):
        assert len(np.unique(clustered.get_layer(name).get_weights()[0])) <= 8, name

    for stripped, stem in ((pruned, "pruned"), (clustered, "clustered")):
        lite = _convert(stripped, tmp_path / f"{stem}.tflite")
        np.testing.assert_allclose(lite.predict(x, batch_size=32),
                                   stripped.predict(x, verbose=0), atol=1e-5)


def test_bert_learns_ag_news_and_litert_agrees(ag_news, ag_news_csv, tmp_path):
    texts, labels = ag_news
    train, held = slice(0, 1000), slice(1000, 1500)
    encoder = architecture("bert").make_encoder(load_dataset(f"csv:{ag_news_csv}"))
    encoder.fit(texts[train])
    x_train, x_held = encoder.transform(texts[train]), encoder.transform(texts[held])
    set_seed(0)
    model = build_model("bert", encoder, 4)
    compile_model(model, 1e-3)
    model.fit(x_train, labels[train], epochs=8, batch_size=64, verbose=0)
    _, keras_accuracy = model.evaluate(x_held, labels[held], batch_size=250, verbose=0)

    lite = _convert(model, tmp_path / "bert.tflite")
    lite_accuracy = np.mean(np.argmax(lite.predict(x_held), axis=1) == labels[held])
    assert lite_accuracy > 0.5, f"held-out accuracy {lite_accuracy:.3f}, chance is 0.25"
    assert abs(lite_accuracy - keras_accuracy) <= 2 / 500
