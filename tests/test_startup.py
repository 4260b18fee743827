"""What a server start imports: only what the offline path uses (timings are bench/ready.py's job)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

# Each of these cost start-up time and none is used to answer offline: they load at the point of use
# (ingest, calibration, the LLM engine, the ONNX export).
NOT_AT_START = [
    "sklearn", "scipy.stats", "langchain_text_splitters", "langchain", "langchain_openai", "langchain_ollama",
    "openai", "pypdf", "bs4", "markdownify", "torch", "transformers", "sentence_transformers",
]

BUILD_SERVER = """
import json, sys
from advisor_bot.config import Settings
from advisor_bot.advisor import Advisor
from ui.server import create_app

settings = Settings()
advisor = Advisor(settings=settings)
create_app(advisor, settings)
import gradio.component_meta, ui.gradio_boot
print(json.dumps({
    "modules": sorted(sys.modules),
    "stub_writer_skipped": gradio.component_meta.create_or_modify_pyi is ui.gradio_boot.no_stub,
    "answers": bool(advisor.ask("When should we move to a CDMO?").citations),
}))
"""


def test_a_server_built_from_scratch_loads_none_of_what_only_ingest_calibration_or_the_llm_use(advisor, settings, models_dir: Path):
    # The session's exported graph, so the subprocess does not export one (which imports torch).
    link = settings.data_dir / "models"
    if not link.exists():
        link.symlink_to(models_dir, target_is_directory=True)
    env = {**os.environ, "ADVISOR_DATA_DIR": str(settings.data_dir), "ADVISOR_CORPUS_DIR": str(settings.corpus_dir)}
    done = subprocess.run([sys.executable, "-c", BUILD_SERVER], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["answers"]
    assert [m for m in NOT_AT_START if m in got["modules"]] == []
    # Gradio's run-time stub writer (a third of `import gradio`) is skipped when ui is imported first.
    assert got["stub_writer_skipped"]


def test_the_package_names_load_on_first_use():
    code = (
        "import sys, advisor_bot.config\n"
        "before = 'advisor_bot.advisor' in sys.modules\n"
        "from advisor_bot import Advisor, Settings\n"
        "print(before, Advisor.__module__, Settings.__module__)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "advisor_bot.advisor", "advisor_bot.config"]
