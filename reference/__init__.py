"""Reference data: the denominators and targets of every province and commune, and the
crosswalk from the 63 pre-July-2025 provinces (and their communes) to the 34 current ones.

    from reference import load_reference
    data = load_reference()                 # shipped defaults (+ CIVICPULSE_REFERENCE_FILE)
    data.provinces["38"].eligible_16plus   # Thanh Hóa
    data.communes["14797"].population      # Phường Hạc Thành (estimated from its province)

    from reference import crosswalk
    crosswalk.new_province_for("36")       # "37": Nam Định is part of Ninh Bình
"""

from reference import crosswalk
from reference.exceptions import ReferenceDataError
from reference.loader import ENV_VAR, load_reference
from reference.models import (
    COUNT_FIELDS,
    FIGURE_FIELDS,
    TARGET_FIELDS,
    LocalityFigures,
    ReferenceData,
)

__all__ = [
    "COUNT_FIELDS",
    "ENV_VAR",
    "FIGURE_FIELDS",
    "TARGET_FIELDS",
    "LocalityFigures",
    "ReferenceData",
    "ReferenceDataError",
    "crosswalk",
    "load_reference",
]
