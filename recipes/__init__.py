"""Recommendation algorithms behind one small contract (see :mod:`recipes.base`)."""

from recipes.base import Hyperparameter, InteractionData, Model, Recipe
from recipes.registry import available_recipes, get_recipe, register_recipe

__all__ = [
    "Hyperparameter",
    "InteractionData",
    "Model",
    "Recipe",
    "available_recipes",
    "get_recipe",
    "register_recipe",
]
