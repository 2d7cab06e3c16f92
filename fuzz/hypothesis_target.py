"""Hypothesis as a fuzzer: valid specs from the grammar, and mutations of them.

    python fuzz/hypothesis_target.py RUNS OUT_DIR   (fuzz/run.py does this)
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from record import Recorder  # noqa: E402

from fuzz.specgen import mutated_specs, valid_specs  # noqa: E402


def main() -> None:
    runs, out = int(sys.argv[1]), Path(sys.argv[2])
    recorder = Recorder(out, "hypothesis", every=200)
    inputs = st.one_of(valid_specs(sloppy=True).map(lambda s: s.text.encode("utf-8")), mutated_specs())

    @settings(max_examples=runs, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(inputs)
    def run(data: bytes) -> None:
        recorder(data)

    run()
    recorder.save()


if __name__ == "__main__":
    main()
