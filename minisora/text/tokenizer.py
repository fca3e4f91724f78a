"""A word-level tokenizer for the Bouncing Shapes captions (lesson 08; the text-to-video model reuses it in 09).

Why words and not BPE (Sennrich et al. 2016) or CLIP's byte-level BPE: BPE exists to give an
open language a finite vocabulary, splitting rare words into pieces seen in training. This
world's captions come from a closed grammar (`minisora.data.captions`): `caption_vocabulary()`
lists every word a canonical or free caption can contain, 73 of them. So every word gets
one token of its own; BPE would merge straight back to those words and only ever split
words the world never says. A word outside the list becomes `<unk>` (reported by
`unknown_words`, never a crash), so a user's prompt with "purple" still encodes.

Text -> tokens: lower-case, drop one trailing period (as `parse_caption` does), then split
into runs of letters/digits and single punctuation marks. The comma is a token of its own:
the world's captions use it (", the camera pans left"; "a red ball, a blue box and ..."),
keeping it costs one vocabulary entry and at most 3 positions, and it makes `decode` give
back the exact caption, which `parse_caption` can then read (it needs ", the camera").

Ids: `<pad>` = 0, `<unk>` = 1, `<bos>` = 2, `<eos>` = 3, then the words in the order given.
Every caption is wrapped as <bos> words <eos> and padded to `context_length` (the longest
caption the world can make, + 2): one fixed shape, so a text encoder's position table and a
DiT's cross-attention see the same L every batch. The mask (True = a real token, as
`minisora.blocks.attention`'s key_padding_mask wants it) is what makes padding harmless;
the encoder's tests prove it changes nothing. A text longer than the context is refused
with its token count, never silently cut.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch
from torch import Tensor

from minisora.data.captions import (
    ARTICLES,
    BACKGROUND_WORDS,
    CAMERA_JOINERS,
    CAMERA_WORDS,
    CANONICAL_CAMERA,
    CANONICAL_MOTION,
    MOTION_WORDS,
    OPENERS,
    SHAPE_WORDS,
    SIZE_WORDS,
    caption_vocabulary,
)
from minisora.data.scene import BACKGROUNDS, COLORS, MAX_OBJECTS, SHAPES, SIZES

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"
SPECIALS = (PAD, UNK, BOS, EOS)  # ids 0..3, in this order
PUNCTUATION = (",",)  # the only mark the world's captions use
_TOKEN = re.compile(r"[a-z0-9]+|[^\sa-z0-9]")  # a word, or one punctuation mark


def split_words(text: str) -> list[str]:
    """`text` as the tokenizer's words: lower-cased, one trailing period dropped, punctuation split off."""
    if not isinstance(text, str):
        raise ValueError(f"a caption must be a string, got {type(text).__name__}")
    text = text.lower().strip()
    text = text[:-1] if text.endswith(".") else text  # "a red circle." is the caption "a red circle"
    return _TOKEN.findall(text)


def longest_caption_words() -> dict[str, int]:
    """The most words (commas counted) a caption of each style can have, read off the grammar tables.

    canonical: MAX_OBJECTS x "a SIZE COLOR SHAPE MOTION", joined by "and", + "on a BG background"
               + ", the camera CAMERA";
    free:      OPENER + MAX_OBJECTS x "ARTICLE SIZE COLOR SHAPE MOTION", joined by ", " and a final
               "and", + BACKGROUND phrase + CAMERA_JOINER + CAMERA phrase.
    """

    def most(phrases) -> int:
        return max(len(split_words(phrase)) for phrase in phrases)

    def most_of(table: dict) -> int:  # the longest phrasing of any value: {"small": ("small", "little"), ...}
        return most(option for options in table.values() for option in options)

    joiners = MAX_OBJECTS - 1  # n objects need n - 1 joiners; "and" and "," are one token each
    color = most(COLORS)
    canonical_object = 1 + most(SIZES) + color + most(SHAPES) + most(CANONICAL_MOTION.values())  # "a ..."
    canonical = (MAX_OBJECTS * canonical_object + joiners
                 + len(split_words("on a background")) + most(BACKGROUNDS)
                 + len(split_words(", the camera")) + most(CANONICAL_CAMERA.values()))
    free_object = most(ARTICLES) + most_of(SIZE_WORDS) + color + most_of(SHAPE_WORDS) + most_of(MOTION_WORDS)
    free = (most(OPENERS) + MAX_OBJECTS * free_object + joiners + most_of(BACKGROUND_WORDS)
            + most(CAMERA_JOINERS) + most_of(CAMERA_WORDS))
    return {"canonical": canonical, "free": free}


def world_vocabulary() -> tuple[str, ...]:
    """The words of the world's captions (`caption_vocabulary()`) and the comma: a Tokenizer's vocabulary."""
    return (*caption_vocabulary(), *PUNCTUATION)


def world_context_length() -> int:
    """Tokens of the longest caption the world can make, in either style, plus <bos> and <eos>."""
    return max(longest_caption_words().values()) + 2


class Tokenizer:
    """Words <-> ids for a closed vocabulary: <bos> words <eos>, padded to `context_length`, with a mask."""

    def __init__(self, vocabulary: Sequence[str], context_length: int) -> None:
        if isinstance(vocabulary, str) or not isinstance(vocabulary, Sequence) or not vocabulary:
            raise ValueError(f"vocabulary must be a non-empty sequence of words, got {vocabulary!r:.60}")
        for word in vocabulary:
            if not isinstance(word, str) or _TOKEN.fullmatch(word) is None:
                raise ValueError(f"vocabulary entry {word!r} is not one token (a lower-case word or one punctuation "
                                 "mark); split phrases into words")
        if len(set(vocabulary)) != len(vocabulary):
            twice = sorted({w for w in vocabulary if list(vocabulary).count(w) > 1})
            raise ValueError(f"vocabulary lists {twice} more than once; give each word once")
        if isinstance(context_length, bool) or not isinstance(context_length, int) or context_length < 2:
            raise ValueError(f"context_length must be an int >= 2 (room for <bos> and <eos>), got {context_length!r}")
        self.vocabulary = tuple(vocabulary)
        self.context_length = context_length
        self.tokens = (*SPECIALS, *self.vocabulary)  # id -> token
        self.ids = {token: i for i, token in enumerate(self.tokens)}  # token -> id
        self.pad_id, self.unk_id, self.bos_id, self.eos_id = (self.ids[s] for s in SPECIALS)

    @classmethod
    def from_world(cls) -> Tokenizer:
        """The tokenizer of the Bouncing Shapes captions: their words, and room for the longest one."""
        return cls(world_vocabulary(), world_context_length())

    @property
    def vocab_size(self) -> int:
        """Rows a token embedding needs: the specials and the words."""
        return len(self.tokens)

    def __repr__(self) -> str:
        words, specials = len(self.vocabulary), len(SPECIALS)
        return f"Tokenizer({words} words + {specials} specials, context_length={self.context_length})"

    def unknown_words(self, text: str) -> list[str]:
        """The words of `text` that are not in the vocabulary (each once, in order): they encode as <unk>."""
        unknown = []
        for word in split_words(text):
            if word not in self.ids and word not in unknown:
                unknown.append(word)
        return unknown

    def encode_one(self, text: str) -> list[int]:
        """<bos> word ids <eos> for one text, unpadded; a ValueError if it does not fit the context."""
        ids = [self.bos_id, *(self.ids.get(word, self.unk_id) for word in split_words(text)), self.eos_id]
        if len(ids) > self.context_length:
            raise ValueError(f"the text {text!r:.80} is {len(ids)} tokens with <bos> and <eos>, more than "
                             f"context_length={self.context_length}; shorten it (it is never cut silently)")
        return ids

    def encode(self, texts: str | Sequence[str]) -> tuple[Tensor, Tensor]:
        """texts (one string, or B of them) -> ids (B, context_length) int64 and mask (B, context_length) bool,
        True = a real token (<bos>, words, <eos>), False = padding."""
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, Sequence) or isinstance(texts, bytes):
            raise ValueError(f"texts must be a string or a list of strings, got {type(texts).__name__}")
        if len(texts) == 0:
            raise ValueError("texts is empty; pass at least one caption (an empty string '' is a valid caption)")
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise ValueError(f"texts[{i}] is a {type(text).__name__}, not a string; pass captions as str")
        ids = torch.full((len(texts), self.context_length), self.pad_id, dtype=torch.long)  # (B, L)
        mask = torch.zeros(len(texts), self.context_length, dtype=torch.bool)  # (B, L)
        for row, text in enumerate(texts):
            encoded = self.encode_one(text)
            ids[row, : len(encoded)] = torch.tensor(encoded)
            mask[row, : len(encoded)] = True
        return ids, mask

    def decode(self, ids: Tensor | Sequence[int]) -> str | list[str]:
        """ids (L,) -> the text; (B, L) -> B texts. Padding, <bos> and <eos> are dropped, <unk> stays."""
        if not isinstance(ids, Tensor):
            try:
                ids = torch.as_tensor(ids)
            except (TypeError, ValueError, RuntimeError) as error:
                raise ValueError(f"ids must be a tensor or a (nested) list of ints, got {type(ids).__name__}") \
                    from error
        if ids.dtype.is_floating_point or ids.dtype.is_complex or ids.dtype == torch.bool:
            raise ValueError(f"ids must be integer token ids, got dtype {ids.dtype}")
        if ids.ndim not in (1, 2):
            raise ValueError(f"ids must have shape (L,) or (B, L), got {tuple(ids.shape)}")
        if ids.numel() and (ids.min() < 0 or ids.max() >= self.vocab_size):
            raise ValueError(f"ids must lie in 0..{self.vocab_size - 1} (this vocabulary), got "
                             f"{int(ids.min())}..{int(ids.max())}")
        if ids.ndim == 2:
            return [self._decode_row(row) for row in ids.tolist()]
        return self._decode_row(ids.tolist())

    def _decode_row(self, row: list[int]) -> str:
        skip = {self.pad_id, self.bos_id, self.eos_id}
        text = " ".join(self.tokens[i] for i in row if i not in skip)
        for mark in PUNCTUATION:
            text = text.replace(f" {mark}", mark)  # "box , a" -> "box, a": marks attach to the word before
        return text
