"""advisor-bot: cited advice on outsourcing chemical development."""

from advisor_bot.advisor import Advisor
from advisor_bot.answer import Answer
from advisor_bot.turns import Turn
from advisor_bot.citations import Citation
from advisor_bot.config import Settings
from advisor_bot.errors import AdvisorError

__all__ = ["Advisor", "AdvisorError", "Answer", "Citation", "Settings", "Turn"]
