"""The project's own NLU: chat normaliser, language identifier, Rasa components."""
