"""JPKI (公的個人認証サービス): signing and user-authentication CAs, My Number Card,
registry-driven lifecycle."""
