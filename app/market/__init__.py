"""The carbon-inclusive market: certified grams sold or retired to buyers, with certificates."""
