"""Gradient-flow diagnostics (``rnnkit.diagnostics.gradient_flow``), from :mod:`rnnkit.training.diagnostics`."""

from rnnkit.training.diagnostics import GradientFlow, gradient_flow, plot_gradient_flow

__all__ = ["GradientFlow", "gradient_flow", "plot_gradient_flow"]
