"""The digital-twin configuration schema (docs/domain.md), checked field by field.

`validate_configuration` returns `{"<path>": ["message"]}`; an empty dict means valid.
Messages name the field and the rule, never echo the submitted value.
"""

from numbers import Real

PREDICTION_MODELS = ("risk_relapse", "treatment_response", "symptom_forecast", "sleep_quality")
DATA_SOURCES = ("actigraphy", "symptoms", "sessions", "sleep", "heart_rate", "medication")
ALERT_THRESHOLDS = {
    "phq9_change": (0, None),
    "gad7_change": (0, None),
    "suicide_risk": (0, 1),
    "sleep_hours_min": (0, 24),
}
KEYS = ("simulation_granularity_hours", "prediction_models_enabled", "data_sources_enabled", "alert_thresholds")


def _is_number(value) -> bool:
    return (
        isinstance(value, Real)
        and not isinstance(value, bool)
        and value == value
        and value
        not in (
            float("inf"),
            float("-inf"),
        )
    )


def _check_subset(value, allowed, path, errors):
    if not isinstance(value, list):
        errors[path] = ["Must be a list."]
        return
    bad = [item for item in value if not isinstance(item, str) or item not in allowed]
    if bad:
        errors[path] = [f"Items must be chosen from: {', '.join(allowed)}."]
    elif len(set(value)) != len(value):
        errors[path] = ["Items must not repeat."]


def validate_configuration(config, prefix="configuration") -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not isinstance(config, dict):
        return {prefix: ["Must be a JSON object."]}
    if len(config) > len(KEYS):
        # Counted before any key is looked at: 100,000 keys cost one len(), not 100,000 errors.
        return {prefix: [f"Has {len(config)} keys; at most {len(KEYS)} are defined: {', '.join(KEYS)}."]}
    for key in config:
        if key not in KEYS:
            # Key names come from the client: cut to a length fit for an error path.
            errors[f"{prefix}.{str(key)[:64]}"] = ["Unknown key."]
    if "simulation_granularity_hours" in config:
        value = config["simulation_granularity_hours"]
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 168:
            errors[f"{prefix}.simulation_granularity_hours"] = ["Must be an integer from 1 to 168."]
    if "prediction_models_enabled" in config:
        _check_subset(
            config["prediction_models_enabled"],
            PREDICTION_MODELS,
            f"{prefix}.prediction_models_enabled",
            errors,
        )
    if "data_sources_enabled" in config:
        _check_subset(config["data_sources_enabled"], DATA_SOURCES, f"{prefix}.data_sources_enabled", errors)
    if "alert_thresholds" in config:
        thresholds = config["alert_thresholds"]
        path = f"{prefix}.alert_thresholds"
        if not isinstance(thresholds, dict):
            errors[path] = ["Must be a JSON object."]
        elif len(thresholds) > len(ALERT_THRESHOLDS):
            errors[path] = [f"Has {len(thresholds)} keys; at most {len(ALERT_THRESHOLDS)} are defined."]
        else:
            for key, value in thresholds.items():
                if key not in ALERT_THRESHOLDS:
                    errors[f"{path}.{str(key)[:64]}"] = ["Unknown key."]
                    continue
                low, high = ALERT_THRESHOLDS[key]
                if not _is_number(value) or value < low or (high is not None and value > high):
                    rule = f"from {low} to {high}" if high is not None else f"at least {low}"
                    errors[f"{path}.{key}"] = [f"Must be a number {rule}."]
    return errors
