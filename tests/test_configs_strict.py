"""Every config of the package rejects unknown keys, naming the key (a typo must never be silently ignored)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest
from pydantic import BaseModel, ValidationError

import longtracerl


def _config_classes() -> list[type[BaseModel]]:
    """Every pydantic class of the package named ``*Config`` or ``*Settings`` (records and API payloads are
    not configs: records keep unknown fields on purpose so newer files load in older code)."""
    found: dict[str, type[BaseModel]] = {}
    for mod in pkgutil.walk_packages(longtracerl.__path__, "longtracerl."):
        try:
            m = importlib.import_module(mod.name)
        except ImportError:  # an optional framework (verl, ray) missing: its module has no config classes
            continue
        for name, obj in vars(m).items():
            if (inspect.isclass(obj) and issubclass(obj, BaseModel) and obj.__module__ == m.__name__
                    and name.endswith(("Config", "Settings"))):
                found[f"{obj.__module__}.{name}"] = obj
    return [found[k] for k in sorted(found)]


CLASSES = _config_classes()


def test_the_walk_finds_the_known_configs() -> None:
    names = {c.__name__ for c in CLASSES}
    assert {"BuildConfig", "RewardConfig", "JudgeSettings", "PaperGRPOConfig", "AssemblyConfig", "WalkConfig",
            "WalkSettings", "ValidationConfig", "OutcomeSettings", "LLMSettings"} <= names


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_config_forbids_unknown_keys(cls: type[BaseModel]) -> None:
    assert cls.model_config.get("extra") == "forbid", f"{cls.__module__}.{cls.__name__} accepts unknown keys"
    with pytest.raises(ValidationError) as e:
        cls.model_validate({"no_such_setting_xyz": 1})
    assert "no_such_setting_xyz" in str(e.value)


def test_nested_typos_name_the_path() -> None:
    from longtracerl.config import BuildConfig
    from longtracerl.reward import RewardConfig

    with pytest.raises(ValueError, match=r"walk\.hopz"):
        BuildConfig.load(overrides=["walk.hopz=3"])
    with pytest.raises(ValidationError, match=r"judge\.promt"):
        RewardConfig.model_validate({"judge": {"promt": "hle"}})
    with pytest.raises(ValidationError, match="format"):
        RewardConfig.model_validate({"format": "strict"})
