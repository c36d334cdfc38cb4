"""The personal radio: a queue from the recommender, played through sidplayfp."""
