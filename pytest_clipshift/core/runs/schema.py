"""The JSON Schema of the results file (``clipshift-results/1``) and its validation on read.

A results file is untrusted input (it may come from another machine or a pull request): every file
the plugin or the ``clipshift`` command reads is validated here before anything uses it, and the
first bad field is named.
"""

from __future__ import annotations

SCHEMA = "clipshift-results/1"

MAX_MAGNITUDE = 1e15
"""No clipshift number comes near it, and sums and squares of numbers within it cannot overflow a
float: a crafted 1e308 would otherwise turn a mean into infinity and a compare into nonsense."""
_NUMBER_OR_NULL = {"type": ["number", "null"], "minimum": -MAX_MAGNITUDE, "maximum": MAX_MAGNITUDE}
_PAIR = {"type": ["array", "null"], "items": _NUMBER_OR_NULL, "minItems": 2, "maxItems": 2}
_SEVERITY = {"type": ["integer", "string"]}
_STRINGS = {"type": "array", "items": {"type": "string"}}
_BASE64 = {"type": "string", "pattern": "^[A-Za-z0-9+/]*={0,2}$"}
_ARRAY = {
    "type": "object",
    "required": ["dtype", "shape", "b64"],
    "properties": {
        "dtype": {"enum": ["float16", "float32"]},
        "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}, "maxItems": 4},
        "b64": _BASE64,
    },
}

_SUMMARY = {
    "type": "object",
    "required": ["mean", "std", "median", "min", "max", "p05", "p95", "ci95", "per_image", "n", "n_undefined"],
    "properties": {
        **{k: _NUMBER_OR_NULL for k in ("mean", "std", "median", "min", "max", "p05", "p95")},
        "ci95": {**_PAIR, "type": "array"},
        "per_image": {"type": "array", "items": _NUMBER_OR_NULL},
        "n": {"type": "integer", "minimum": 0},
        "n_undefined": {"type": "integer", "minimum": 0},
    },
}

_CHECK = {
    "type": "object",
    "required": ["test", "augmentation", "severity", "metric", "stat", "op", "threshold", "value", "passed"],
    "properties": {
        "test": {"type": "string"},
        "augmentation": {"type": "string"},
        "severity": _SEVERITY,
        "metric": {"type": "string"},
        "stat": {"type": "string"},
        "op": {"enum": [">=", ">", "<=", "<"]},
        "threshold": {"type": "number"},
        "value": _NUMBER_OR_NULL,
        "point": _NUMBER_OR_NULL,
        "interval": _PAIR,
        "passed": {"type": "boolean"},
    },
}

_DELTA = {
    "type": "object",
    "required": ["augmentation", "severity", "metric", "stat", "baseline", "candidate", "delta", "worse_by", "failed"],
    "properties": {
        "augmentation": {"type": "string"},
        "severity": _SEVERITY,
        "metric": {"type": "string"},
        "stat": {"type": "string"},
        "baseline": _NUMBER_OR_NULL,
        "candidate": _NUMBER_OR_NULL,
        "delta": _NUMBER_OR_NULL,
        "worse_by": _NUMBER_OR_NULL,
        "failed": _STRINGS,
        "significant": {"type": ["boolean", "null"]},
        "interval": _PAIR,
    },
}

_EXTRA = {
    "type": "object",
    "properties": {
        "comparison": {
            "type": "object",
            "required": ["baseline", "rules", "deltas", "missing", "failed"],
            "properties": {
                "baseline": {"type": "string"},
                "rules": _STRINGS,
                "deltas": {"type": "array", "items": _DELTA},
                "missing": _STRINGS,
                "failed": {"type": "integer", "minimum": 0},
            },
        },
        "breaking_points": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["augmentation", "rule", "strength", "holds_at", "steps"],
                "properties": {
                    "augmentation": {"type": "string"},
                    "rule": {"type": "string"},
                    "strength": _NUMBER_OR_NULL,
                    "holds_at": _NUMBER_OR_NULL,
                    "steps": {"type": "array"},
                },
            },
        },
        "merged_from": _STRINGS,
        "gate_failures": _STRINGS,
        "created": {"type": "string", "maxLength": 40},
        "timing": {
            "type": "object",
            "properties": {
                "measure_seconds": _NUMBER_OR_NULL,
                "cache": {"type": "object"},
                "cells_measured": {"type": "integer", "minimum": 0},
                "threads_per_worker": {"type": ["integer", "null"]},
            },
        },
        "calibration": {
            "type": "object",
            "required": ["target", "cells", "fits", "best"],
            "properties": {
                "target": {"type": "string"},
                "cells": _STRINGS,
                "fits": {"type": "object"},
                "best": {"type": ["string", "null"]},
            },
        },
        "corruption_error": {
            "type": "object",
            "required": ["metric", "baseline", "mce", "relative_mce", "families", "corruptions"],
            "properties": {
                "metric": {"type": "string"},
                "baseline": {"type": "string"},
                "mce": _NUMBER_OR_NULL,
                "relative_mce": _NUMBER_OR_NULL,
                "families": {"type": "object"},
                "corruptions": {"type": "object"},
            },
        },
    },
}

_OVERLAY = {
    "type": "object",
    "required": ["format", "b64"],
    "properties": {
        "format": {"enum": ["jpeg", "png"]},
        "b64": _BASE64,
        "images": _STRINGS,
        "values": {"type": "array", "items": {"type": "number"}},
        "metric": {"type": "string"},
    },
}

_RESULT = {
    "type": "object",
    "required": ["augmentation", "severity", "n_images", "metrics"],
    "properties": {
        "augmentation": {"type": "string"},
        "severity": _SEVERITY,
        "n_images": {"type": "integer", "minimum": 0},
        "unchanged_images": {"type": "integer", "minimum": 0},
        "parameters": {"type": "object"},
        "image_subset": _STRINGS,
        "metrics": {"type": "object", "additionalProperties": _SUMMARY},
        "embeddings": _ARRAY,
        "overlay": _OVERLAY,  # files written before overlays per metric: one
        "overlays": {"type": "array", "items": _OVERLAY},
    },
}


def results_schema() -> dict:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "clipshift results",
        "type": "object",
        "required": ["schema", "model", "seed", "images", "versions", "results", "budgets"],
        "properties": {
            "schema": {"const": SCHEMA},
            "model": {
                "type": "object",
                "required": ["name", "fingerprint"],
                "properties": {"name": {"type": "string"}, "fingerprint": {"type": "string"}},
            },
            "seed": {"type": "integer", "minimum": 0},
            "images": {
                "type": "object",
                "required": ["count", "hash", "names"],
                "properties": {
                    "count": {"type": "integer", "minimum": 0},
                    "hash": {"type": "string"},
                    "source": {"type": "string"},
                    "names": _STRINGS,
                },
            },
            "versions": {"type": "object", "additionalProperties": {"type": "string"}},
            "machine": {"type": "object"},
            "settings": {"type": "object"},
            "coverage": {
                "type": "object",
                "required": ["complete", "reasons"],
                "properties": {"complete": {"type": "boolean"}, "reasons": _STRINGS},
            },
            "results": {"type": "array", "items": _RESULT},
            "clean_embeddings": _ARRAY,
            "budgets": {"type": "array", "items": _CHECK},
            "clustering": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "properties": {
                        "labels": {**_STRINGS, "minItems": 2, "maxItems": 1000},
                        "distance": {"type": "array", "items": {"type": "array", "items": _NUMBER_OR_NULL}},
                    },
                },
            },
            "warnings": _STRINGS,
            "extra": _EXTRA,
        },
    }


def _where(path) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".") or "(top level)"


def validate_results(data, source: str) -> None:
    """Raise ``ConfigError`` naming the first field of ``data`` that breaks the schema or the file's
    own counts (a per-image list longer than the image set, an array whose bytes do not fit its shape)."""
    import base64
    import binascii

    import jsonschema

    from ..errors import ConfigError

    if isinstance(data, dict) and "schema" in data and data["schema"] != SCHEMA:
        raise ConfigError(
            f"{source}: schema {data['schema']!r} is not {SCHEMA!r}; it was written by an incompatible version"
        )
    validator = jsonschema.Draft202012Validator(results_schema())
    error = min(validator.iter_errors(data), key=lambda e: list(e.absolute_path), default=None)
    if error is not None:
        raise ConfigError(
            f"{source}: not a valid clipshift results file: field {_where(error.absolute_path)}: {error.message[:200]}"
        )
    names = data["images"]["names"]
    if data["images"]["count"] != len(names):
        raise ConfigError(
            f"{source}: field images.count is {data['images']['count']} but images.names lists {len(names)}"
        )

    def check_array(array: dict, field: str, rows: int | None) -> None:
        try:
            raw = base64.b64decode(array["b64"], validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError(f"{source}: field {field}.b64 is not valid base64") from None
        size = 1
        for n in array["shape"]:
            size *= n
        if size * (2 if array["dtype"] == "float16" else 4) != len(raw) or (
            rows is not None and array["shape"][:1] != [rows]
        ):
            raise ConfigError(
                f"{source}: field {field}: shape {array['shape']} does not fit its data or its image count"
            )

    for i, r in enumerate(data["results"]):
        rows = len(r.get("image_subset") or names)
        if r["n_images"] != rows:
            raise ConfigError(f"{source}: field results[{i}].n_images is {r['n_images']} but the run has {rows} images")
        for metric, summary in r["metrics"].items():
            if len(summary["per_image"]) != rows:
                raise ConfigError(
                    f"{source}: field results[{i}].metrics.{metric}.per_image has "
                    f"{len(summary['per_image'])} values for {rows} images"
                )
        if "embeddings" in r:
            check_array(r["embeddings"], f"results[{i}].embeddings", rows)
    if "clean_embeddings" in data:
        check_array(data["clean_embeddings"], "clean_embeddings", len(names))
    for severity, c in (data.get("clustering") or {}).items():
        if "labels" in c and "distance" in c:
            k = len(c["labels"])
            if len(c["distance"]) != k or any(len(row) != k or None in row for row in c["distance"]):
                raise ConfigError(f"{source}: field clustering.{severity}.distance is not {k} x {k} numbers")
