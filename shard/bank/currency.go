package bank

import (
	"sort"
	"strings"
)

// currencies maps ISO 3166-1 alpha-2 country codes to the ISO 4217 currency
// accounts of a tenant in that country are held in.
var currencies = map[string]string{
	// West Africa
	"GH": "GHS", "NG": "NGN", "SL": "SLE", "LR": "LRD", "GM": "GMD", "GN": "GNF", "CV": "CVE",
	"SN": "XOF", "CI": "XOF", "BJ": "XOF", "TG": "XOF", "BF": "XOF", "ML": "XOF", "NE": "XOF", "GW": "XOF",
	// Central Africa
	"CM": "XAF", "GA": "XAF", "CG": "XAF", "TD": "XAF", "CF": "XAF", "GQ": "XAF", "CD": "CDF",
	// East Africa
	"KE": "KES", "UG": "UGX", "TZ": "TZS", "RW": "RWF", "BI": "BIF", "ET": "ETB", "SO": "SOS",
	"SS": "SSP", "SD": "SDG", "DJ": "DJF", "ER": "ERN",
	// Southern Africa
	"ZA": "ZAR", "ZM": "ZMW", "ZW": "ZWG", "MW": "MWK", "MZ": "MZN", "BW": "BWP", "NA": "NAD",
	"LS": "LSL", "SZ": "SZL", "AO": "AOA", "MG": "MGA", "MU": "MUR",
	// North Africa
	"EG": "EGP", "MA": "MAD", "TN": "TND", "DZ": "DZD", "LY": "LYD",
	// Elsewhere
	"US": "USD", "GB": "GBP", "IN": "INR", "PH": "PHP", "BD": "BDT", "PK": "PKR", "NP": "NPR",
	"ID": "IDR", "VN": "VND", "KH": "KHR", "MM": "MMK", "LK": "LKR", "MX": "MXN", "BR": "BRL",
	"PE": "PEN", "CO": "COP", "BO": "BOB", "GT": "GTQ", "HN": "HNL", "NI": "NIO", "HT": "HTG",
	"CA": "CAD", "AU": "AUD", "JM": "JMD", "DE": "EUR", "FR": "EUR", "NL": "EUR", "IE": "EUR",
	"ES": "EUR", "IT": "EUR", "PT": "EUR", "BE": "EUR",
}

// CurrencyFor returns the currency for a country code (case-insensitive);
// ok is false for a country the platform does not serve.
func CurrencyFor(country string) (string, bool) {
	c, ok := currencies[strings.ToUpper(strings.TrimSpace(country))]
	return c, ok
}

// SupportedCountries lists the supported country codes, sorted.
func SupportedCountries() []string {
	out := make([]string, 0, len(currencies))
	for k := range currencies {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// minorDigits are the ISO 4217 minor-unit digits of the currencies above
// that are not 2: an amount of 12500 is UGX 12,500 but GHS 125.00.
var minorDigits = map[string]int{
	"BIF": 0, "DJF": 0, "GNF": 0, "RWF": 0, "UGX": 0, "VND": 0, "XAF": 0, "XOF": 0,
	"LYD": 3, "TND": 3,
}

// CurrencyDigits is how many decimal digits a currency's minor unit has
// (ISO 4217): 2 for most, 0 for UGX, XOF and other zero-decimal currencies.
func CurrencyDigits(currency string) int {
	if d, ok := minorDigits[currency]; ok {
		return d
	}
	return 2
}

// currencyNames holds each currency code once, so reads can share the
// string instead of copying it from every row.
var currencyNames = func() map[string]string {
	m := make(map[string]string, len(currencies))
	for _, c := range currencies {
		m[c] = c
	}
	return m
}()
