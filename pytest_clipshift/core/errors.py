"""The errors clipshift raises. Each message names the thing that is wrong and what would be right."""


class ClipShiftError(Exception):
    """Base class for every error clipshift raises on purpose."""


class ImageError(ClipShiftError):
    """An image that cannot be measured: unreadable, empty, too small or too large."""

    def __init__(self, name: str, problem: str):
        self.image = name
        super().__init__(f"image {name!r}: {problem}")


class ImageSetError(ClipShiftError):
    """An image set with images that cannot be measured: every one of them named in one message."""

    def __init__(self, source: str, problems: list[ImageError], total: int):
        self.problems = problems
        listed = "\n  - ".join(str(p) for p in problems[:50])
        more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(
            f"image set {source!r}: {len(problems)} of {total} image(s) cannot be measured; fix or remove them:"
            f"\n  - {listed}{more}"
        )


class ModelLoadError(ClipShiftError):
    """A model that cannot be loaded; the message lists everything that was tried."""


class ConfigError(ClipShiftError):
    """A bad option, budget file, augmentation or metric name."""


MALFORMED_INPUT_ERRORS = (RecursionError, ArithmeticError, TypeError, ValueError, KeyError, AttributeError, IndexError)
"""What code reading a results file that passed the schema can still raise on what no clipshift run
writes: caught where such a file enters (the ``clipshift`` command, ``--clipshift-compare``) and
turned into a message, never a traceback."""


class NonFiniteEmbeddingError(ClipShiftError):
    """The model produced NaN or inf (fp16 overflow, say) for an image."""
