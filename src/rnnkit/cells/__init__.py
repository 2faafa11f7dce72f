"""Recurrent cells: the math of one time step, one file per family (layer 1 of docs/design.md)."""

from rnnkit.cells.base import LSTMState, RecurrentCell, State, map_state, state_tensors
from rnnkit.cells.conv import ConvGRUCell, ConvLSTMCell
from rnnkit.cells.elman import ElmanCell
from rnnkit.cells.gru import GRUCell
from rnnkit.cells.indrnn import IndRNNCell
from rnnkit.cells.layernorm import LayerNormGRUCell, LayerNormLSTMCell
from rnnkit.cells.linear import LinearCoefficients, LinearRecurrentCell, LogCoefficients
from rnnkit.cells.lru import LRUCell
from rnnkit.cells.lstm import LSTMCell
from rnnkit.cells.mingru import MinGRUCell, MinLSTMCell
from rnnkit.cells.slstm import SLSTMCell, SLSTMState

#: Names accepted wherever a cell class is expected (``Recurrent("lstm", ...)``).
CELLS: dict[str, type[RecurrentCell]] = {
    "elman": ElmanCell,
    "rnn": ElmanCell,
    "lstm": LSTMCell,
    "gru": GRUCell,
    "indrnn": IndRNNCell,
    "layernorm_lstm": LayerNormLSTMCell,
    "layernorm_gru": LayerNormGRUCell,
    "mingru": MinGRUCell,
    "minlstm": MinLSTMCell,
    "lru": LRUCell,
    "slstm": SLSTMCell,
    "convlstm": ConvLSTMCell,
    "convgru": ConvGRUCell,
}


def resolve_cell(cell: str | type[RecurrentCell]) -> type[RecurrentCell]:
    """Turn a cell name (``"lstm"``) or class into the class; unknown names list the known ones."""
    if isinstance(cell, str):
        try:
            return CELLS[cell.lower()]
        except KeyError:
            raise ValueError(f"cell: unknown name {cell!r}; expected one of {sorted(CELLS)}") from None
    if isinstance(cell, type) and issubclass(cell, RecurrentCell):
        return cell
    raise TypeError(f"cell: expected a RecurrentCell subclass or a name, got {cell!r}")


__all__ = [
    "CELLS",
    "ConvGRUCell",
    "ConvLSTMCell",
    "ElmanCell",
    "GRUCell",
    "IndRNNCell",
    "LRUCell",
    "LSTMCell",
    "LSTMState",
    "LayerNormGRUCell",
    "LayerNormLSTMCell",
    "LinearCoefficients",
    "LinearRecurrentCell",
    "LogCoefficients",
    "MinGRUCell",
    "MinLSTMCell",
    "RecurrentCell",
    "SLSTMCell",
    "SLSTMState",
    "State",
    "map_state",
    "resolve_cell",
    "state_tensors",
]
