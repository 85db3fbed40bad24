from ._mongoose import *
from ._mongoose import Manager as Manager
from ._mongoose import __all__ as __all__

__version__: str
from .aio import AsyncManager as AsyncManager

__all__ += ["AsyncManager"]
