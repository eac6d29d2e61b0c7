"""Reviews: asking customers for a review, and recording the reviews they leave."""
