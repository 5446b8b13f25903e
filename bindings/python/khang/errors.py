"""Error codes of libkhang and the exception raised for them.

Every failing libkhang call raises :class:`KhangError` with the call's
negative return code and the library's message for it (``khang_error_last()``,
which names the object and address involved)::

    try:
        data = dump.read_virtual(va, 16)
    except khang.KhangError as e:
        if e.code == khang.ENOTPRESENT:
            ...   # the page is not in the dump: normal for kernel dumps
"""

import enum


class ErrorCode(enum.IntEnum):
    """libkhang return codes (``khang_error_code``). Never renumbered."""
    OK = 0
    EINVAL = -1
    ENOMEM = -2
    EIO = -3
    EFORMAT = -4
    ECORRUPT = -5
    EUNSUPPORTED = -6
    ENOTPRESENT = -7
    ENOTFOUND = -8
    ERANGE = -9
    ELIMIT = -10
    EBUFSIZE = -11
    ITEROVER = -31


OK = ErrorCode.OK
EINVAL = ErrorCode.EINVAL
ENOMEM = ErrorCode.ENOMEM
EIO = ErrorCode.EIO
EFORMAT = ErrorCode.EFORMAT
ECORRUPT = ErrorCode.ECORRUPT
EUNSUPPORTED = ErrorCode.EUNSUPPORTED
ENOTPRESENT = ErrorCode.ENOTPRESENT
ENOTFOUND = ErrorCode.ENOTFOUND
ERANGE = ErrorCode.ERANGE
ELIMIT = ErrorCode.ELIMIT
EBUFSIZE = ErrorCode.EBUFSIZE
ITEROVER = ErrorCode.ITEROVER


class KhangError(Exception):
    """A libkhang call failed.

    Attributes:
        code: the negative return code (an :class:`ErrorCode` when known).
        message: the library's message for this failure (may be "").
        name: the code's C name, e.g. "KHANG_ENOTPRESENT".
    """

    def __init__(self, code, message=""):
        try:
            code = ErrorCode(code)
        except ValueError:
            pass
        super().__init__(code, message)
        self.code = code
        self.message = message

    @property
    def name(self):
        if isinstance(self.code, ErrorCode):
            return "KHANG_" + self.code.name
        return "error %d" % self.code

    def __str__(self):
        if self.message:
            return "%s (%s)" % (self.message, self.name)
        return self.name
