"""One way a family of this package registers its classes with transformers' Auto classes (no trust_remote_code):
the config under its ``model_type``, and each head under the Auto class of its task."""

from __future__ import annotations


def register_with_auto(config_class, heads: dict[str, type]) -> None:
    """``AutoConfig`` for ``config_class``, and ``heads`` (Auto class name, e.g. ``"AutoModelForCausalLM"`` → the
    head) for its models; ``exist_ok=True`` keeps re-imports (module reloads) harmless."""
    import transformers

    transformers.AutoConfig.register(config_class.model_type, config_class, exist_ok=True)
    for auto_name, model_class in heads.items():
        getattr(transformers, auto_name).register(config_class, model_class, exist_ok=True)
