"""verl plugin: importing this module registers the ``longtrace_grpo`` advantage estimator.

Declared as a ``verl.plugins`` entry point in pyproject.toml; verl 0.9.1 loads every such entry point at
the end of ``import verl`` (unless ``VERL_USE_EXTERNAL_PLUGINS=none``), in the driver, the trainer actor and
every worker. Without the installed package metadata (e.g. running from a source checkout), set
``VERL_USE_EXTERNAL_MODULES=longtracerl.reward.adapters.verl_plugin``, which verl imports the same way.
"""

from longtracerl.reward.adapters.verl_advantage import register_estimator

REGISTERED = register_estimator()
