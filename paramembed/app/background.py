"""The app's own background threads: the launcher's warm-up (`warm`) and the next-task prefetch (`task_sources`).

They fill the process-wide `st.cache_resource` caches that the pages then read. Streamlit warns
"missing ScriptRunContext" for every cached call made outside a script run: expected on these
threads, so their names start with `PREFIX` and the warning is filtered for them alone.
"""

from __future__ import annotations

import logging

PREFIX = "paramembed-"


class _FromOurThreads(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.threadName.startswith(PREFIX)


logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").addFilter(_FromOurThreads())
