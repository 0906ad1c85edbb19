# HA 2026 replaces voluptuous with probatio's shim at import (homeassistant/__init__.py calls
# probatio.compat.install_as_voluptuous), so on that side `import voluptuous` is this module.
from probatio import *  # noqa: F403
