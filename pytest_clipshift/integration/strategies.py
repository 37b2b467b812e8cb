"""hypothesis strategies for property tests over augmentations.

    from hypothesis import given
    from pytest_clipshift.strategies import strengths

    @given(t=strengths())
    def test_noise_keeps_cosine(clipshift, t):
        result = clipshift.measure_strength("gaussian_noise", t)
        assert result.stat("cosine", "mean") >= 0.9

hypothesis shrinks a failing strength towards 0: the minimal failing case is the breaking point.
"""

from __future__ import annotations

from hypothesis import strategies as st


def strengths(min_value: float = 0.0, max_value: float = 1.0, resolution: int = 1000):
    """An augmentation strength in [min_value, max_value] (0 = no change), on a grid of
    ``resolution`` steps. Drawn as an integer so that hypothesis shrinks a failure towards the
    mildest failing strength (it would shrink a float towards "simple" values such as 1.0)."""
    lo, hi = round(min_value * resolution), round(max_value * resolution)
    return st.integers(lo, hi).map(lambda i: i / resolution)


def augmentation_names(names=None):
    """One of the built-in augmentations with a continuous strength (or of ``names``)."""
    from ..core.augment.augmentations import CONTINUOUS

    return st.sampled_from(list(names or CONTINUOUS))


def augmentation_cases(names=None, max_strength: float = 1.0):
    """(name, strength) pairs."""
    return st.tuples(augmentation_names(names), strengths(0.0, max_strength))
