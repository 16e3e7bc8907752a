"""Recipes by name: the built-in ones, those registered in code, and entry points."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from engine.errors import InvalidInputError
from recipes.base import Recipe

__all__ = ["available_recipes", "get_recipe", "register_recipe"]

ENTRY_POINT_GROUP = "recengine.recipes"

# Built-in recipes by name, as "module:class", imported only when asked for.
_BUILTIN = {
    "content-based": "recipes.content:ContentBased",
    "hybrid": "recipes.hybrid:Hybrid",
    "personalized-ranking": "recipes.ranking:PersonalizedRanking",
    "popularity-count": "recipes.popularity:PopularityCount",
    "similar-items": "recipes.similar_items:SimilarItems",
    "trending-now": "recipes.trending:TrendingNow",
    "user-personalization": "recipes.als:UserPersonalization",
}
_REGISTERED: dict[str, type[Recipe]] = {}


def register_recipe(recipe: type[Recipe]) -> type[Recipe]:
    """Register ``recipe`` under ``recipe.name``; usable as a class decorator."""
    _REGISTERED[recipe.name] = recipe
    return recipe


def available_recipes() -> list[str]:
    """Names of every recipe that can be trained, sorted."""
    plugins = {point.name for point in entry_points(group=ENTRY_POINT_GROUP)}
    return sorted(set(_BUILTIN) | set(_REGISTERED) | plugins)


def get_recipe(name: str) -> type[Recipe]:
    """The recipe class called ``name``.

    Raises
    ------
    InvalidInputError
        No recipe has that name; the message lists the ones that exist.
    """
    if name in _REGISTERED:
        return _REGISTERED[name]
    if name in _BUILTIN:
        module_name, class_name = _BUILTIN[name].split(":")
        recipe: type[Recipe] = getattr(importlib.import_module(module_name), class_name)
        return recipe
    for point in entry_points(group=ENTRY_POINT_GROUP):
        if point.name == name:
            loaded: type[Recipe] = point.load()
            return loaded
    known = ", ".join(available_recipes())
    raise InvalidInputError(f"unknown recipe {name!r}; available recipes: {known}")
