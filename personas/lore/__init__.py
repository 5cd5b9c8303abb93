"""Lorebooks: entries that join the prompt when their keys come up in the chat."""
