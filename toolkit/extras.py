"""Optional extras: which ``pip install "norce-toolkit[...]"`` brings a module that is missing.

The core package plans and submits feeds; the local sandbox needs ``norce-toolkit[sandbox]`` and the
notebook helpers (preview, widgets, charts, papermill runs) need ``norce-toolkit[lab]``. Without them, an
import fails with a message that names the extra instead of a bare ``ModuleNotFoundError``.

Examples
--------
>>> extra_for("uvicorn.config"), extra_for("altair"), extra_for("polars")
('sandbox', 'lab', None)
"""

from __future__ import annotations

__all__ = ["EXTRAS", "extra_for", "missing_extra_message"]

EXTRAS: dict[str, tuple[str, ...]] = {
    "sandbox": ("starlette", "uvicorn", "trustme"),
    "lab": (
        "jupyterlab",
        "ipywidgets",
        "papermill",
        "altair",
        "vl_convert",
        "nbclient",
        "nbformat",
        "jupyter_client",
        "jupyter_core",
        "IPython",
        "ipykernel",
    ),
}


def extra_for(module: str | None) -> str | None:
    """The extra that installs ``module`` (a dotted name is looked up by its top package), or None."""
    top = (module or "").split(".")[0]
    return next((extra for extra, modules in EXTRAS.items() if top in modules), None)


def missing_extra_message(exc: ModuleNotFoundError, *, what: str) -> str | None:
    """What to say when ``what`` failed on a module of an optional extra; None for any other module.

    >>> missing_extra_message(ModuleNotFoundError("no", name="starlette"), what="norce-feeds sandbox")
    'norce-feeds sandbox needs the optional module starlette: pip install "norce-toolkit[sandbox]"'
    """
    extra = extra_for(exc.name)
    if extra is None:
        return None
    top = (exc.name or "").split(".")[0]
    return f'{what} needs the optional module {top}: pip install "norce-toolkit[{extra}]"'
