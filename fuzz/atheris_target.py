"""Coverage-guided fuzzing of the front end + code generation with atheris (libFuzzer).

    python fuzz/atheris_target.py -runs=100000 fuzz/corpus   (fuzz/run.py does this)
"""

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

with atheris.instrument_imports(include=["netdsl"]):
    import netdsl.api  # noqa: F401 - instrumented for coverage feedback
    import netdsl.torch.codegen  # noqa: F401

from record import Recorder


def main() -> None:
    out = Path(sys.argv.pop(sys.argv.index("--out") + 1)) if "--out" in sys.argv else Path("fuzz/out")
    sys.argv = [a for a in sys.argv if a != "--out"]
    recorder = Recorder(out, "atheris", every=500)
    atheris.Setup(sys.argv, recorder)
    try:
        atheris.Fuzz()
    finally:
        recorder.save()


if __name__ == "__main__":
    main()
