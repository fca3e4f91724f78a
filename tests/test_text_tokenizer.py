"""minisora.text.tokenizer: round trips on the world's captions, <unk>, the longest caption, clear errors."""

import numpy as np
import pytest
import torch

from minisora.data import SceneSpec, canonical_caption, caption_vocabulary, free_caption, parse_caption, sample_scene
from minisora.data.scene import ObjectSpec
from minisora.text import SPECIALS, Tokenizer, longest_caption_words, split_words, world_context_length


@pytest.fixture(scope="module")
def tokenizer():
    return Tokenizer.from_world()


def random_scenes(count, seed=0):
    rng = np.random.default_rng(seed)
    return [sample_scene(rng, split="all", gray_prob=0.5, camera_prob=0.5) for _ in range(count)], rng


def test_specials_and_vocabulary(tokenizer):
    assert tokenizer.tokens[:4] == SPECIALS == ("<pad>", "<unk>", "<bos>", "<eos>")
    assert (tokenizer.pad_id, tokenizer.unk_id, tokenizer.bos_id, tokenizer.eos_id) == (0, 1, 2, 3)
    assert tokenizer.vocabulary == (*caption_vocabulary(), ",")
    assert tokenizer.vocab_size == 4 + len(caption_vocabulary()) + 1
    assert tokenizer.context_length == world_context_length() == max(longest_caption_words().values()) + 2


def test_canonical_captions_round_trip_exactly_and_parse_back(tokenizer):
    scenes, _ = random_scenes(300)
    captions = [canonical_caption(scene) for scene in scenes]
    ids, mask = tokenizer.encode(captions)
    assert ids.dtype == torch.long and mask.dtype == torch.bool and ids.shape == (300, tokenizer.context_length)
    assert mask.shape == ids.shape and not (ids == tokenizer.unk_id).any()
    decoded = tokenizer.decode(ids)
    assert decoded == captions
    assert [parse_caption(text) for text in decoded] == scenes  # the comma survives, so the camera does too
    assert any(", the camera" in c for c in captions)


def test_free_captions_round_trip_exactly(tokenizer):
    scenes, rng = random_scenes(300, seed=1)
    captions = [free_caption(scene, rng) for scene in scenes]
    ids, mask = tokenizer.encode(captions)
    assert tokenizer.decode(ids) == captions and not (ids == tokenizer.unk_id).any()
    assert sum("," in c for c in captions) > 10  # the round trip did meet commas


def test_layout_bos_words_eos_then_padding(tokenizer):
    ids, mask = tokenizer.encode("a small red circle bouncing")
    words = ["a", "small", "red", "circle", "bouncing"]
    assert ids[0, :7].tolist() == [tokenizer.bos_id, *(tokenizer.ids[w] for w in words), tokenizer.eos_id]
    assert mask[0].tolist() == [True] * 7 + [False] * (tokenizer.context_length - 7)
    assert (ids[0, 7:] == tokenizer.pad_id).all()
    assert tokenizer.decode(ids[0]) == "a small red circle bouncing"  # (L,) -> one string
    assert tokenizer.decode(ids[0].tolist()) == "a small red circle bouncing"  # a plain list too


def test_case_and_a_trailing_period_do_not_matter(tokenizer):
    a, _ = tokenizer.encode("A Small RED circle bouncing.")
    b, _ = tokenizer.encode("a small red circle bouncing")
    assert torch.equal(a, b)
    assert split_words("a red box, moving left.") == ["a", "red", "box", ",", "moving", "left"]


def test_unknown_words_become_unk_and_are_reported(tokenizer):
    text = "a purple circle zooming, a purple box"
    assert tokenizer.unknown_words(text) == ["purple", "zooming"]  # once each, in order
    assert tokenizer.unknown_words("a small red circle bouncing") == []
    ids, mask = tokenizer.encode(text)
    assert (ids[0] == tokenizer.unk_id).sum() == 3
    assert tokenizer.decode(ids[0]) == "a <unk> circle <unk>, a <unk> box"
    assert tokenizer.unknown_words("a red circle!") == ["!"]  # other punctuation is not the world's
    assert tokenizer.encode("")[1].sum() == 2  # "" is <bos> <eos>: a valid (empty) caption


def longest_canonical() -> str:
    objects = tuple(ObjectSpec(color, "triangle", "large", "still") for color in ("red", "green", "blue"))
    return canonical_caption(SceneSpec(objects, background="gray", camera="pan left"))


LONGEST_FREE = ("a clip showing one little red circle drifting to the left, one little green circle drifting to the "
                "left and one little blue circle drifting to the left in front of a gray wall, the camera moves to "
                "the left")


def test_the_longest_caption_fits_exactly_and_one_more_word_is_refused(tokenizer):
    assert longest_caption_words() == {"canonical": 29, "free": 42}
    for text, words in ((longest_canonical(), 29), (LONGEST_FREE, 42)):
        assert len(split_words(text)) == words
        assert not tokenizer.unknown_words(text)
    ids, mask = tokenizer.encode(LONGEST_FREE)
    assert mask.all() and ids[0, -1] == tokenizer.eos_id  # every position used, nothing cut
    with pytest.raises(ValueError, match=r"is 45 tokens with <bos> and <eos>, more than context_length=44"):
        tokenizer.encode(["a red circle", LONGEST_FREE + " again"])


def test_no_random_caption_is_longer_than_the_bound():
    rng = np.random.default_rng(7)
    bound = longest_caption_words()
    longest = {"canonical": 0, "free": 0}
    for _ in range(20_000):
        scene = sample_scene(rng, split="all", gray_prob=0.5, camera_prob=0.5)
        longest["canonical"] = max(longest["canonical"], len(split_words(canonical_caption(scene))))
        longest["free"] = max(longest["free"], len(split_words(free_caption(scene, rng))))
    assert longest["canonical"] == bound["canonical"]  # reached: three objects, two-word motions, gray, a camera
    assert 30 < longest["free"] <= bound["free"]


@pytest.mark.parametrize("texts, message", [
    ([], "texts is empty"),
    (["a red circle", 3], r"texts\[1\] is a int, not a string"),
    ([None], r"texts\[0\] is a NoneType"),
    (42, "texts must be a string or a list of strings, got int"),
    (b"a red circle", "texts must be a string or a list of strings, got bytes"),
])
def test_encode_refuses_what_is_not_captions(tokenizer, texts, message):
    with pytest.raises(ValueError, match=message):
        tokenizer.encode(texts)


def test_decode_and_unknown_words_refuse_bad_input(tokenizer):
    with pytest.raises(ValueError, match="integer token ids, got dtype torch.float32"):
        tokenizer.decode(torch.zeros(3))
    with pytest.raises(ValueError, match=r"shape \(L,\) or \(B, L\), got \(1, 2, 3\)"):
        tokenizer.decode(torch.zeros(1, 2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match=f"ids must lie in 0..{tokenizer.vocab_size - 1}"):
        tokenizer.decode([2, tokenizer.vocab_size, 3])
    with pytest.raises(ValueError, match="ids must lie in"):
        tokenizer.decode([-1])
    with pytest.raises(ValueError, match="a tensor or a"):
        tokenizer.decode(["a", "b"])
    with pytest.raises(ValueError, match="a caption must be a string, got list"):
        tokenizer.unknown_words(["a"])


@pytest.mark.parametrize("vocabulary, context_length, message", [
    (("red", "red"), 8, r"lists \['red'\] more than once"),
    (("red circle",), 8, "is not one token"),
    (("<pad>",), 8, "is not one token"),
    (("Red",), 8, "is not one token"),
    ((), 8, "non-empty sequence of words"),
    ("red", 8, "non-empty sequence of words"),
    (("red",), 1, "context_length must be an int >= 2"),
    (("red",), 8.0, "context_length must be an int >= 2"),
])
def test_tokenizer_refuses_bad_vocabularies(vocabulary, context_length, message):
    with pytest.raises(ValueError, match=message):
        Tokenizer(vocabulary, context_length)


def test_a_small_custom_vocabulary():
    tokenizer = Tokenizer(("red", "circle"), context_length=4)
    ids, mask = tokenizer.encode(["red circle", "blue"])
    assert ids.tolist() == [[2, 4, 5, 3], [2, 1, 3, 0]] and mask.sum(dim=1).tolist() == [4, 3]
    assert tokenizer.decode(ids) == ["red circle", "<unk>"]
    with pytest.raises(ValueError, match="is 5 tokens"):
        tokenizer.encode("red red red")
