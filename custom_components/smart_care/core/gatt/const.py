"""Bluetooth SIG short UUIDs of the services and characteristics Smart Care speaks (pure).

Notes: docs/modules.md (core/gatt/).
"""

from __future__ import annotations

from typing import Final

# The Bluetooth base UUID after the 16-bit part: 0000xxxx-0000-1000-8000-00805f9b34fb.
BASE_UUID_SUFFIX: Final = "-0000-1000-8000-00805f9b34fb"

# Services
CURRENT_TIME_SERVICE: Final = "1805"
GLUCOSE_SERVICE: Final = "1808"
BATTERY_SERVICE: Final = "180f"
DEVICE_INFORMATION_SERVICE: Final = "180a"

# Measurement characteristics
BLOOD_PRESSURE_MEASUREMENT: Final = "2a35"
INTERMEDIATE_CUFF_PRESSURE: Final = "2a36"
TEMPERATURE_MEASUREMENT: Final = "2a1c"
INTERMEDIATE_TEMPERATURE: Final = "2a1e"
HEART_RATE_MEASUREMENT: Final = "2a37"
WEIGHT_MEASUREMENT: Final = "2a9d"
BODY_COMPOSITION_MEASUREMENT: Final = "2a9c"
GLUCOSE_MEASUREMENT: Final = "2a18"
GLUCOSE_MEASUREMENT_CONTEXT: Final = "2a34"
PLX_SPOT_CHECK_MEASUREMENT: Final = "2a5e"
PLX_CONTINUOUS_MEASUREMENT: Final = "2a5f"

# Control point, clock and battery
RACP: Final = "2a52"
CURRENT_TIME: Final = "2a2b"
DATE_TIME: Final = "2a08"
BATTERY_LEVEL: Final = "2a19"

# Device Information strings
MANUFACTURER_NAME: Final = "2a29"
MODEL_NUMBER: Final = "2a24"
SOFTWARE_REVISION: Final = "2a26"
HARDWARE_REVISION: Final = "2a27"
