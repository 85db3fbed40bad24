from ._mongoose import *  # noqa: F401,F403
from ._mongoose import Manager as Manager

__version__: str
from .aio import AsyncManager as AsyncManager
