"""A stand-in for a real SMS provider, loaded by its dotted path as production would."""


class RecordingSms:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def send_login_code(self, phone: str, code: str) -> None:
        self.sent.append((phone, code))
