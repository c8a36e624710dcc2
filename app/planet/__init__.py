"""The planet game's persistence: state per player, quiz answers, friends, live events."""
