"""The stratified sample's rule, with answers computed here: labels in their text's order (unlabelled
images last), each label's share by the largest remainder with ties to the label that sorts first, a
seeded draw without replacement per label in that order."""

from __future__ import annotations

import numpy as np

from pytest_clipshift.core.data.sampling import stratified_sample


def by_hand(labels, take: dict, seed: int) -> list[int]:
    """The documented draw: each label in order, its indices drawn without replacement from one rng."""
    rng = np.random.default_rng(seed)
    order = sorted((k for k in take if k is not None), key=str) + ([None] if None in take else [])
    chosen = []
    for k in order:
        members = [i for i, lab in enumerate(labels) if lab == k]
        chosen += [int(i) for i in rng.choice(members, size=take[k], replace=False)]
    return sorted(chosen)


def test_labels_are_drawn_in_their_texts_order_with_the_unlabelled_last():
    labels = ["zebra", None, "apple", "zebra", None, "apple", "mango", "zebra", None, "apple", "mango", None]
    take = {"apple": 2, "mango": 1, "zebra": 2, None: 2}  # 7 of 12: 1.75, 1.17, 1.75, 2.33 -> remainders
    for seed in range(5):
        assert stratified_sample(labels, 7, seed) == by_hand(labels, take, seed)


def test_a_tied_remainder_goes_to_the_label_whose_text_sorts_first():
    labels = ["b", "b", "a", "a", None, None]  # 3 of 6: every label's exact share is 1: no remainder
    assert len(stratified_sample(labels, 3, 0)) == 3
    labels = ["b", None, "a"]  # 2 of 3: each 0.667, two extras among three tied labels: "None" < "a" < "b"
    for seed in range(3):
        picked = stratified_sample(labels, 2, seed)
        assert sorted(labels[i] or "" for i in picked) == ["", "a"]  # str(None) sorts before "a"


def test_never_the_same_image_twice():
    labels = ["a", "a", "a", "b"]  # 3 of 4: a takes 2 of its 3, b its 1
    for seed in range(40):
        picked = stratified_sample(labels, 3, seed)
        assert len(set(picked)) == 3 and sum(labels[i] == "b" for i in picked) == 1


def test_asking_for_as_many_or_more_keeps_every_image_in_order():
    labels = ["b", "a", None]
    assert stratified_sample(labels, 3, 0) == [0, 1, 2] == stratified_sample(labels, 10, 0)
