"""Replies read aloud: the text to speak, the engines that speak it, and a store of what
was spoken (so each reply is synthesized once, whoever asks)."""
