"""The chat page and its embed assets: a thin shell over ``Advisor``."""
