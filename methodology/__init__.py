"""Carbon-reduction methodologies: versioned data files and a pure, integer calculator.

A methodology is a TOML file in `methodology/files/` (see `travel-v1.toml`): an id, a
version, an effective-from time with zone, conversion rates (grams per point, growth
per kg), travel kinds each with a baseline and a mode factor (decimal strings in
gCO2e per person-km, each with its source), plausibility bounds (minimum distance,
maximum average speed) and a daily cap in grams, and a steps rule (steps per growth
and per energy, a daily cap and a plausibility bound). Files are validated on load;
an error names the file, the field and why. A city adds its own methodology by adding
a file with a new id or a higher version and a later `effective_from`; activities keep
the version they were computed with.
"""

from methodology.calculator import (
    ActivityInput,
    Calculation,
    DailyTotals,
    Rejection,
    calculate,
)
from methodology.loader import MethodologyError, load_directory, load_methodology, parse_methodology
from methodology.model import Methodology
from methodology.registry import (
    MethodologyRegistry,
    PublicCap,
    PublicFactor,
    default_registry,
    public_caps,
    public_factors,
)

__all__ = [
    "ActivityInput", "Calculation", "DailyTotals", "Rejection", "calculate",
    "MethodologyError", "load_directory", "load_methodology", "parse_methodology",
    "Methodology", "MethodologyRegistry", "PublicCap", "PublicFactor",
    "default_registry", "public_caps", "public_factors",
]
