"""The JSON Schema of the results file (``clipshift-results/1``)."""

from __future__ import annotations

_SUMMARY = {
    "type": "object",
    "required": ["mean", "std", "median", "min", "max", "p05", "p95", "ci95", "per_image", "n", "n_undefined"],
    "properties": {
        **{k: {"type": ["number", "null"]} for k in ("mean", "std", "median", "min", "max", "p05", "p95")},
        "ci95": {"type": "array", "items": {"type": ["number", "null"]}, "minItems": 2, "maxItems": 2},
        "per_image": {"type": "array", "items": {"type": ["number", "null"]}},
        "n": {"type": "integer"}, "n_undefined": {"type": "integer"},
    },
}

_CHECK = {
    "type": "object",
    "required": ["test", "augmentation", "severity", "metric", "stat", "op", "threshold", "value", "passed"],
    "properties": {
        "test": {"type": "string"}, "augmentation": {"type": "string"}, "severity": {"type": ["integer", "string"]},
        "metric": {"type": "string"}, "stat": {"type": "string"}, "op": {"enum": [">=", ">", "<=", "<"]},
        "threshold": {"type": "number"}, "value": {"type": ["number", "null"]}, "passed": {"type": "boolean"},
    },
}


def results_schema() -> dict:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "clipshift results",
        "type": "object",
        "required": ["schema", "model", "seed", "images", "versions", "results", "budgets"],
        "properties": {
            "schema": {"const": "clipshift-results/1"},
            "model": {"type": "object", "required": ["name", "fingerprint"]},
            "seed": {"type": "integer", "minimum": 0},
            "images": {"type": "object", "required": ["count", "hash", "names"],
                       "properties": {"count": {"type": "integer"}, "hash": {"type": "string"},
                                      "names": {"type": "array", "items": {"type": "string"}}}},
            "versions": {"type": "object", "additionalProperties": {"type": "string"}},
            "results": {"type": "array", "items": {
                "type": "object", "required": ["augmentation", "severity", "n_images", "metrics"],
                "properties": {"augmentation": {"type": "string"}, "severity": {"type": ["integer", "string"]},
                               "n_images": {"type": "integer"}, "image_subset": {"type": "array", "items": {"type": "string"}},
                               "metrics": {"type": "object", "additionalProperties": _SUMMARY}}}},
            "budgets": {"type": "array", "items": _CHECK},
            "clustering": {"type": "object"},
            "warnings": {"type": "array", "items": {"type": "string"}},
        },
    }
