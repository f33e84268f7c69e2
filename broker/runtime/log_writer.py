"""`python -m broker.runtime.log_writer PATH TOKEN`: the SQLite access log's writer process.

Its body is storage's (`broker.storage.sqlite.log_writer_process`); its entry point is here, in the
assembly, because it joins that body with the personal-data module's chain rule (`link`): storage
never imports the policy above it.
"""

from __future__ import annotations

from broker.personal.access_log import link
from broker.storage.sqlite.log_writer_process import main

if __name__ == "__main__":
    main(link)
