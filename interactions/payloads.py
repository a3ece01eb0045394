"""Per-kind payload rules (docs/domain.md). Returns `{"<path>": ["message"]}`; empty means valid."""

import json

MAX_PAYLOAD_BYTES = 64 * 1024
ASSESSMENT_RANGES = {"PHQ-9": (0, 27), "GAD-7": (0, 21)}


def payload_size(payload) -> int:
    return len(json.dumps(payload).encode())


def validate_payload(kind: str, payload, prefix: str = "payload") -> dict[str, list[str]]:
    if not isinstance(payload, dict):
        return {prefix: ["Must be a JSON object."]}
    if payload_size(payload) > MAX_PAYLOAD_BYTES:
        return {prefix: [f"Must be at most {MAX_PAYLOAD_BYTES} bytes of JSON."]}
    errors: dict[str, list[str]] = {}
    if kind == "message":
        for key in payload:
            if key != "text":
                errors[f"{prefix}.{key}"] = ["Unknown key."]
        text = payload.get("text")
        if not isinstance(text, str) or not 1 <= len(text) <= 10000:
            errors[f"{prefix}.text"] = ["Must be a string of 1 to 10000 characters."]
    elif kind == "assessment":
        for key in payload:
            if key not in ("instrument", "score"):
                errors[f"{prefix}.{key}"] = ["Unknown key."]
        instrument = payload.get("instrument")
        score = payload.get("score")
        if instrument not in ASSESSMENT_RANGES:
            errors[f"{prefix}.instrument"] = ["Must be one of: PHQ-9, GAD-7."]
        elif not isinstance(score, int) or isinstance(score, bool):
            errors[f"{prefix}.score"] = ["Must be an integer."]
        else:
            low, high = ASSESSMENT_RANGES[instrument]
            if not low <= score <= high:
                errors[f"{prefix}.score"] = [f"{instrument} score must be from {low} to {high}."]
    return errors
