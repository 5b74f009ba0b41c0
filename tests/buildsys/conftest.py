import sys
from pathlib import Path

# The build system is a plain package under scripts/ (noxfile sets PYTHONPATH the same way).
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
