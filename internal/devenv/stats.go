package devenv

import (
	"cmp"
	"math"
	"slices"
)

// Percentile returns the q-quantile (0 ≤ q ≤ 1) of v by nearest rank, the zero value
// for no values. v is not changed.
func Percentile[T cmp.Ordered](v []T, q float64) T {
	var zero T
	if len(v) == 0 {
		return zero
	}
	s := slices.Sorted(slices.Values(v))
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// Median returns the middle value of v, or the mean of the two middle ones.
func Median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(v))
	return (s[(len(s)-1)/2] + s[len(s)/2]) / 2
}
