"""Token encoders for text models: WordPiece for the encoder, byte-pair for the decoder.

Both are fitted on the training role's member texts only, turn any texts into fixed-length
int32 token ids with 0 as padding, and save their whole state (vocabulary, merges, sequence
length, casing) as JSON. Tokenization itself is done by keras-nlp's tokenizers, called
eagerly outside the tf_keras model, so the exported .tflite takes token ids.
"""
from __future__ import annotations

import heapq
import logging
import time
from collections import Counter, defaultdict
from functools import lru_cache
from typing import Any, Iterable, Sequence

import numpy as np

from compleak_tf.errors import CompleakError
from compleak_tf.models.encoders import InputEncoder, register_encoder
from compleak_tf.tfcompat import keras_nlp

logger = logging.getLogger(__name__)

__all__ = ["BytePairEncoder", "WordPieceEncoder", "byte_symbols", "learn_byte_pair_merges"]

PAD_ID = 0


def _as_texts(x: Iterable[Any]) -> list[str]:
    return [str(t) for t in np.asarray(x).reshape(-1)]


def _rows(tokenized: Any) -> list[list[int]]:
    """Lists of ids from a keras-nlp tokenizer's output (Python lists or a RaggedTensor)."""
    if hasattr(tokenized, "to_list"):
        tokenized = tokenized.to_list()
    return [[int(i) for i in row] for row in tokenized]


def _check_sequence_length(sequence_length: int) -> int:
    sequence_length = int(sequence_length)
    if sequence_length < 2:
        raise CompleakError(f"sequence_length must be at least 2, got {sequence_length}")
    return sequence_length


class _TokenEncoder(InputEncoder):
    """Shared plumbing: fixed-length int32 output, fitted-state checks, vocabulary size."""

    def __init__(self, sequence_length: int, lowercase: bool) -> None:
        self.sequence_length = _check_sequence_length(sequence_length)
        self.lowercase = bool(lowercase)
        self.vocabulary: list[str] | None = None
        self._tokenizer = None

    @property
    def model_input_shape(self) -> tuple[int, ...]:
        return (self.sequence_length,)

    @property
    def vocabulary_size(self) -> int:
        """Number of distinct ids (the model's embedding table size)."""
        self._require_fitted()
        return len(self.vocabulary)

    @property
    def fitted(self) -> bool:
        return self.vocabulary is not None

    def _require_fitted(self) -> None:
        if not self.fitted:
            raise CompleakError(
                f"the {self.kind} encoder has no vocabulary yet; call fit() on the member "
                "texts or load the encoder saved with the model"
            )

    def _prepare(self, x: Iterable[Any]) -> list[str]:
        texts = _as_texts(x)
        return [t.lower() for t in texts] if self.lowercase else texts

    def token_ids(self, x: Iterable[Any]) -> list[list[int]]:
        """Variable-length ids of each text, before special tokens, truncation and padding."""
        self._require_fitted()
        texts = self._prepare(x)
        if not texts:
            return []
        return _rows(self._tokenizer.tokenize(texts))


class WordPieceEncoder(_TokenEncoder):
    """WordPiece ids for the BERT-style encoder: `[CLS]` first, right-padded with `[PAD]`.

    The vocabulary comes from keras-nlp's `compute_word_piece_vocabulary`. That learner keeps
    only word pieces seen at least 10 times and has no option to lower the bar, so a small
    member set yields a smaller vocabulary than asked for (about 1,900 pieces from 1,900 AG
    News articles, whatever the size asked); its binary search over frequency thresholds
    takes about 10-15 s on 1,900 articles on two cores, and less on fewer texts.

    Args:
      sequence_length: ids per text, `[CLS]` included; longer texts are cut at the end.
      vocabulary_size: the most word pieces to learn, special tokens included.
      lowercase: lowercase (and strip accents from) the text before splitting it.
      vocabulary: a learned vocabulary, in id order (as saved by `config`).
    """

    kind = "wordpiece"
    PAD, UNK, CLS = "[PAD]", "[UNK]", "[CLS]"
    RESERVED = (PAD, UNK, CLS)

    def __init__(self, sequence_length: int = 64, vocabulary_size: int = 8000,
                 lowercase: bool = True, vocabulary: Sequence[str] | None = None) -> None:
        super().__init__(sequence_length, lowercase)
        self.max_vocabulary_size = int(vocabulary_size)
        if self.max_vocabulary_size <= len(self.RESERVED):
            raise CompleakError(
                f"vocabulary_size must exceed {len(self.RESERVED)}, got {vocabulary_size}"
            )
        if vocabulary is not None:
            self._set_vocabulary(list(vocabulary))

    def _set_vocabulary(self, vocabulary: list[str]) -> None:
        if list(vocabulary[:len(self.RESERVED)]) != list(self.RESERVED):
            raise CompleakError(
                f"a WordPiece vocabulary must start with {list(self.RESERVED)}; refit the encoder"
            )
        self.vocabulary = vocabulary
        self._tokenizer = keras_nlp().tokenizers.WordPieceTokenizer(
            vocabulary=vocabulary, lowercase=self.lowercase, strip_accents=self.lowercase,
            oov_token=self.UNK, dtype="int32")

    @property
    def unk_id(self) -> int:
        return self.RESERVED.index(self.UNK)

    @property
    def cls_id(self) -> int:
        return self.RESERVED.index(self.CLS)

    def _prepare(self, x: Iterable[Any]) -> list[str]:
        # The keras-nlp tokenizer lowercases (and strips accents) itself.
        return _as_texts(x)

    def fit(self, x: np.ndarray) -> "WordPieceEncoder":
        texts = _as_texts(x)
        if not texts:
            raise CompleakError("cannot fit a WordPiece vocabulary on no texts; give members")
        from compleak_tf.tfcompat import tf

        started = time.perf_counter()
        data = tf().data.Dataset.from_tensor_slices(texts).batch(256)
        vocabulary = keras_nlp().tokenizers.compute_word_piece_vocabulary(
            data, self.max_vocabulary_size, lowercase=self.lowercase,
            strip_accents=self.lowercase, reserved_tokens=list(self.RESERVED))
        self._set_vocabulary([str(v) for v in vocabulary])
        logger.info("WordPiece vocabulary of %d pieces from %d texts (%.1f s)",
                    len(vocabulary), len(texts), time.perf_counter() - started)
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        rows = self.token_ids(x)
        out = np.full((len(rows), self.sequence_length), PAD_ID, dtype=np.int32)
        for i, ids in enumerate(rows):
            ids = [self.cls_id, *ids[:self.sequence_length - 1]]
            out[i, :len(ids)] = ids
        return out

    def config(self) -> dict[str, Any]:
        self._require_fitted()
        return {"sequence_length": self.sequence_length,
                "vocabulary_size": self.max_vocabulary_size,
                "lowercase": self.lowercase, "vocabulary": list(self.vocabulary)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "WordPieceEncoder":
        return cls(sequence_length=config["sequence_length"],
                   vocabulary_size=config["vocabulary_size"],
                   lowercase=config["lowercase"], vocabulary=config["vocabulary"])


# The eager keras-nlp BytePairTokenizer cuts text into words with this pattern before it
# applies merges: contractions, letter runs with one optional leading non-letter, digit runs
# of up to three, punctuation runs with one optional leading space, and whitespace. The
# learner cuts text the same way, so that every merge it learns is one the tokenizer can use.
_WORD_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)


@lru_cache(maxsize=None)
def byte_symbols() -> tuple[str, ...]:
    """The printable character that stands for each byte value in byte-level BPE.

    Bytes that are printable, non-space Latin-1 characters stand for themselves; the other
    68 (controls, space, soft hyphen, ...) take the code points from 256 upwards, in byte
    order. This is the GPT-2 convention that keras-nlp's BytePairTokenizer applies.
    """
    printable = set(range(ord("!"), ord("~") + 1)) | set(range(ord("¡"), ord("¬") + 1)) \
        | set(range(ord("®"), ord("ÿ") + 1))
    symbols, extra = [], 0
    for value in range(256):
        if value in printable:
            symbols.append(chr(value))
        else:
            symbols.append(chr(256 + extra))
            extra += 1
    return tuple(symbols)


def _merge_pair(symbols: tuple[str, ...], pair: tuple[str, str], merged: str) -> tuple[str, ...]:
    """Replaces each non-overlapping occurrence of `pair`, left to right, by `merged`."""
    out: list[str] = []
    i, n = 0, len(symbols)
    while i < n:
        if i + 1 < n and symbols[i] == pair[0] and symbols[i + 1] == pair[1]:
            out.append(merged)
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return tuple(out)


def learn_byte_pair_merges(texts: Iterable[str], vocabulary_size: int,
                           special_tokens: Sequence[str] = (), min_frequency: int = 2
                           ) -> tuple[list[str], list[str]]:
    """Learns byte-level BPE merges from texts (Sennrich et al., ACL 2016; GPT-2's bytes).

    Words are counted once; each step merges the most frequent adjacent pair of symbols,
    weighted by word counts, with ties going to the smallest pair in string order, so the
    result depends only on the texts. Pair counts are updated only for the words that hold
    the merged pair, which keeps a few thousand merges on ~2,000 texts to about a second.

    Args:
      texts: training texts (already lowercased if the tokenizer lowercases).
      vocabulary_size: the most tokens in the result, special tokens and 256 bytes included.
      special_tokens: tokens that take the first ids; no merge may produce one of them.
      min_frequency: pairs seen fewer times than this are never merged.

    Returns:
      (vocabulary in id order, merges as "left right" strings in the order learned).
    """
    import regex

    specials = list(special_tokens)
    vocabulary = specials + [s for s in byte_symbols() if s not in specials]
    if vocabulary_size < len(vocabulary):
        raise CompleakError(
            f"a byte-pair vocabulary needs at least {len(vocabulary)} tokens (256 bytes and "
            f"{len(specials)} special tokens); got vocabulary_size={vocabulary_size}"
        )
    pattern = regex.compile(_WORD_PATTERN)
    table = byte_symbols()
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(pattern.findall(text))
    words = [tuple(table[b] for b in word.encode("utf-8")) for word in sorted(counts)]
    weights = [counts[word] for word in sorted(counts)]

    pair_counts: dict[tuple[str, str], int] = defaultdict(int)
    holders: dict[tuple[str, str], set[int]] = defaultdict(set)
    for index, (symbols, weight) in enumerate(zip(words, weights)):
        for pair in zip(symbols, symbols[1:]):
            pair_counts[pair] += weight
            holders[pair].add(index)
    heap = [(-count, pair) for pair, count in pair_counts.items()]
    heapq.heapify(heap)

    known, banned = set(vocabulary), set(specials)
    merges: list[str] = []
    while len(vocabulary) < vocabulary_size and heap:
        negative, pair = heapq.heappop(heap)
        count = pair_counts.get(pair, 0)
        if count != -negative:
            continue  # a stale entry; the pair's current count was pushed later
        if count < min_frequency:
            break
        merged = pair[0] + pair[1]
        del pair_counts[pair]
        if merged in banned:
            continue
        merges.append(f"{pair[0]} {pair[1]}")
        if merged not in known:
            known.add(merged)
            vocabulary.append(merged)

        touched: set[tuple[str, str]] = set()
        for index in holders.pop(pair, ()):
            old = words[index]
            new = _merge_pair(old, pair, merged)
            if new == old:
                continue
            weight = weights[index]
            for p in zip(old, old[1:]):
                if p != pair:
                    pair_counts[p] -= weight
                    touched.add(p)
            for p in zip(new, new[1:]):
                pair_counts[p] += weight
                holders[p].add(index)
                touched.add(p)
            words[index] = new
        for p in touched:
            if pair_counts[p] > 0:
                heapq.heappush(heap, (-pair_counts[p], p))
            else:
                del pair_counts[p]
    return vocabulary, merges


class BytePairEncoder(_TokenEncoder):
    """Byte-level BPE ids for the GPT-2-style decoder: end-of-text last, left-padded.

    Merges are learned from the member texts by `learn_byte_pair_merges`, and keras-nlp's
    BytePairTokenizer applies them. Every byte is in the vocabulary, so no text has unknown
    tokens. Ids are cut to `sequence_length - 1`, followed by `<|endoftext|>`, and padded on
    the left so that the last position always holds the end-of-text token the decoder reads
    its class from.

    Args:
      sequence_length: ids per text, end-of-text included.
      vocabulary_size: the most tokens, 2 special tokens and 256 bytes included.
      lowercase: lowercase the text before splitting it.
      vocabulary: learned tokens in id order (as saved by `config`).
      merges: learned merges, "left right", in priority order.
    """

    kind = "bytepair"
    PAD, END = "<|pad|>", "<|endoftext|>"
    RESERVED = (PAD, END)

    def __init__(self, sequence_length: int = 64, vocabulary_size: int = 4000,
                 lowercase: bool = True, vocabulary: Sequence[str] | None = None,
                 merges: Sequence[str] | None = None) -> None:
        super().__init__(sequence_length, lowercase)
        self.max_vocabulary_size = int(vocabulary_size)
        self.merges: list[str] | None = None
        if (vocabulary is None) != (merges is None):
            raise CompleakError("a byte-pair encoder needs both its vocabulary and its merges")
        if vocabulary is not None:
            self._set_vocabulary(list(vocabulary), list(merges))

    def _set_vocabulary(self, vocabulary: list[str], merges: list[str]) -> None:
        if list(vocabulary[:len(self.RESERVED)]) != list(self.RESERVED):
            raise CompleakError(
                f"a byte-pair vocabulary must start with {list(self.RESERVED)}; refit the "
                "encoder"
            )
        self.vocabulary, self.merges = vocabulary, merges
        self._tokenizer = keras_nlp().tokenizers.BytePairTokenizer(
            vocabulary={token: i for i, token in enumerate(vocabulary)}, merges=merges,
            dtype="int32")

    @property
    def end_id(self) -> int:
        return self.RESERVED.index(self.END)

    def fit(self, x: np.ndarray) -> "BytePairEncoder":
        texts = self._prepare(x)
        if not texts:
            raise CompleakError("cannot learn byte-pair merges from no texts; give members")
        started = time.perf_counter()
        vocabulary, merges = learn_byte_pair_merges(texts, self.max_vocabulary_size,
                                                    special_tokens=self.RESERVED)
        self._set_vocabulary(vocabulary, merges)
        logger.info("byte-pair vocabulary of %d tokens (%d merges) from %d texts (%.1f s)",
                    len(vocabulary), len(merges), len(texts), time.perf_counter() - started)
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        rows = self.token_ids(x)
        out = np.full((len(rows), self.sequence_length), PAD_ID, dtype=np.int32)
        for i, ids in enumerate(rows):
            ids = [*ids[:self.sequence_length - 1], self.end_id]
            out[i, self.sequence_length - len(ids):] = ids
        return out

    def config(self) -> dict[str, Any]:
        self._require_fitted()
        return {"sequence_length": self.sequence_length,
                "vocabulary_size": self.max_vocabulary_size, "lowercase": self.lowercase,
                "vocabulary": list(self.vocabulary), "merges": list(self.merges)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "BytePairEncoder":
        return cls(sequence_length=config["sequence_length"],
                   vocabulary_size=config["vocabulary_size"], lowercase=config["lowercase"],
                   vocabulary=config["vocabulary"], merges=config["merges"])


register_encoder(WordPieceEncoder.kind, WordPieceEncoder.from_config)
register_encoder(BytePairEncoder.kind, BytePairEncoder.from_config)
