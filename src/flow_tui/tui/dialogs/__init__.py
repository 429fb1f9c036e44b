"""The dashboard's dialogs: each a ModalScreen that dismisses with its answer."""

from flow_tui.tui.dialogs.confirm import ConfirmDialog
from flow_tui.tui.dialogs.confirm_interrupt import ConfirmInterrupt
from flow_tui.tui.dialogs.confirm_quit import ConfirmQuit, QuitChoice
from flow_tui.tui.dialogs.consent import ConsentScreen, PlanDecision
from flow_tui.tui.dialogs.detach import DetachChoice, DetachOrStop
from flow_tui.tui.dialogs.help import HelpScreen, KeyHelp
from flow_tui.tui.dialogs.load import LoadDialog
from flow_tui.tui.dialogs.plan import PlanScreen
from flow_tui.tui.dialogs.save import SaveDialog

__all__ = [
    "ConfirmDialog",
    "ConfirmInterrupt",
    "ConfirmQuit",
    "ConsentScreen",
    "DetachChoice",
    "DetachOrStop",
    "HelpScreen",
    "KeyHelp",
    "LoadDialog",
    "PlanDecision",
    "PlanScreen",
    "QuitChoice",
    "SaveDialog",
]
