"""The chat page and its embed assets: a thin shell over ``Advisor``."""

from ui.gradio_boot import install

install()
