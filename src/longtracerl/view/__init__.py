"""HTML views of run directories: the build report with a sample explorer, eval results, a local server.

Reads run-directory files only (records, JSONL); renders Jinja2 templates into self-contained pages.
"""

from longtracerl.view.build_html import write_build_html
from longtracerl.view.eval_html import write_eval_compare_html, write_eval_html

__all__ = ["write_build_html", "write_eval_compare_html", "write_eval_html"]
