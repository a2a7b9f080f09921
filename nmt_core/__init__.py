"""NMT Studio core: data, tokenizers, the recurrent seq2seq model, training, search and inspection."""

import os as _os

# OpenMP worker threads spin-wait between parallel regions by default (libgomp). When the machine's cores
# are busy with other work (a second training, the studio, a test run), the spinning threads take turns
# with the one doing the work and a step can become many times slower than on one thread; PASSIVE makes
# them sleep instead. It must be set before torch loads OpenMP; a value set by the user wins.
# Measurements: docs/benchmarks.md, "Threads".
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
