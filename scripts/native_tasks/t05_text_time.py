# ruff: noqa: E501  (instructions and reference code are task text, kept as a user would write them)
from native_tasks import S, Task

reviews = Task(
    "product-reviews-text", "Product reviews: tokens, stopwords and a sentiment model", "nltk", "medium", [
        S("num", "pandas", """
File path: `data/reviews.csv` (columns `review_id`, `product`, `rating` 1–5, `text`).

Load it into `reviews`. Print the number of reviews per rating, ratings from 1 to 5, one
`rating count` pair per line.""", """
import pandas as pd
reviews = pd.read_csv("data/reviews.csv")
for rating, count in reviews["rating"].value_counts().sort_index().items():
    print(rating, count)"""),
        S("check", "nltk", """
Tokenise the reviews without a tokenizer model: lowercase each text and take the words with the
regular expression `[a-z]+` (`re.findall`). Remove NLTK's English stopwords
(`nltk.corpus.stopwords.words("english")`). Store each review's remaining words, in order, as a
list in a new column `tokens`.""", """
import re
import nltk
from nltk.corpus import stopwords
nltk.download("stopwords", quiet=True)
stop = set(stopwords.words("english"))
reviews["tokens"] = reviews["text"].map(
    lambda t: [w for w in re.findall(r"[a-z]+", t.lower()) if w not in stop])
reviews[["text", "tokens"]].head()""", """
assert isinstance(reviews["tokens"].iloc[0], list)
assert reviews["tokens"].iloc[0] == ["charger", "broken", "box", "damaged", "camera", "great", "low", "light"], reviews["tokens"].iloc[0]
assert not any(w in ("the", "and", "is") for ts in reviews["tokens"] for w in ts)"""),
        S("num", "python", """
How many tokens are there in all reviews together, and how many distinct tokens? Print the two
numbers separated by a space.""", """
all_tokens = [w for ts in reviews["tokens"] for w in ts]
print(len(all_tokens), len(set(all_tokens)))"""),
        S("text", "python", """
Count the tokens with `collections.Counter` over all reviews (in review order) and call it
`freq`. Print the five most common tokens (`freq.most_common(5)`), words only, separated by
commas and spaces.""", """
from collections import Counter
freq = Counter(all_tokens)
print(", ".join(w for w, _ in freq.most_common(5)))"""),
        S("vis", "matplotlib", """
Draw a horizontal bar chart of the ten most common tokens in `freq` with the most common at the
top, x label 'count', title 'Most common words'.""", """
import matplotlib.pyplot as plt
top10 = freq.most_common(10)
words = [w for w, _ in top10][::-1]
counts = [c for _, c in top10][::-1]
plt.figure(figsize=(7, 4))
plt.barh(words, counts)
plt.xlabel("count")
plt.title("Most common words")
plt.show()"""),
        S("num", "sklearn", """
Keep only the reviews with a rating of 1–2 (label 0, negative) or 4–5 (label 1, positive) in
`labelled`, with the label in a column `label`. Split with `train_test_split(labelled["text"],
labelled["label"], test_size=0.3, random_state=0, stratify=labelled["label"])`, vectorise with
`CountVectorizer(stop_words="english")` fitted on the training texts, and train
`MultinomialNB()`. Print the number of labelled reviews and the test accuracy rounded to 4
decimals, separated by a space.""", """
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.model_selection import train_test_split
from sklearn.naive_bayes import MultinomialNB
labelled = reviews[reviews["rating"] != 3].copy()
labelled["label"] = (labelled["rating"] >= 4).astype(int)
X_train, X_test, y_train, y_test = train_test_split(
    labelled["text"], labelled["label"], test_size=0.3, random_state=0, stratify=labelled["label"])
vec = CountVectorizer(stop_words="english")
nb = MultinomialNB().fit(vec.fit_transform(X_train), y_train)
print(len(labelled), round(nb.score(vec.transform(X_test), y_test), 4))"""),
        S("text", "python", """
Which token is the most common among the reviews rated 1 or 2 (using the `tokens` column)?
Print a sentence of the form 'The most common word in negative reviews is <word>.'""", """
neg = Counter(w for ts in reviews.loc[reviews["rating"] <= 2, "tokens"] for w in ts)
print(f"The most common word in negative reviews is {neg.most_common(1)[0][0]}.")"""),
    ])

traffic = Task(
    "web-traffic-timeseries", "Website traffic: gaps, resampling and seasonality", "statsmodels", "medium", [
        S("num", "pandas", """
File path: `data/traffic.csv` (columns `date`, `visits`, `signups`; one row per day of 2023).

Load it into `traffic` with `date` parsed as dates and used as the index. How many `visits`
values are missing?""", """
import pandas as pd
traffic = pd.read_csv("data/traffic.csv", parse_dates=["date"], index_col="date")
int(traffic["visits"].isna().sum())"""),
        S("num", "pandas", """
Fill the missing `visits` by time-based linear interpolation (`interpolate(method="time")`), in
place in `traffic`. What is the mean daily number of visits afterwards, rounded to 2 decimals?""", """
traffic["visits"] = traffic["visits"].interpolate(method="time")
round(traffic["visits"].mean(), 2)"""),
        S("num", "pandas", """
Resample `visits` to weekly totals with weeks ending on Sunday (`resample("W-SUN").sum()`),
leaving out the first and the last week, which are incomplete. Print the end date (YYYY-MM-DD)
of the busiest week and its total visits rounded to 1 decimal, separated by a space.""", """
weekly = traffic["visits"].resample("W-SUN").sum().iloc[1:-1]
print(weekly.idxmax().strftime("%Y-%m-%d"), round(weekly.max(), 1))"""),
        S("vis", "matplotlib", """
Plot the daily visits (thin line, label 'daily') and their 28-day rolling mean (label '28-day
mean') in one figure, with a legend and the title 'Daily visits in 2023'.""", """
import matplotlib.pyplot as plt
plt.figure(figsize=(10, 4))
plt.plot(traffic.index, traffic["visits"], linewidth=0.7, label="daily")
plt.plot(traffic.index, traffic["visits"].rolling(28).mean(), label="28-day mean")
plt.title("Daily visits in 2023")
plt.legend()
plt.show()"""),
        S("num", "statsmodels", """
Decompose `visits` with `statsmodels.tsa.seasonal.seasonal_decompose(model="additive",
period=7)` into `decomp`. Print the amplitude of the weekly seasonal component (its maximum
minus its minimum) rounded to 2 decimals.""", """
from statsmodels.tsa.seasonal import seasonal_decompose
decomp = seasonal_decompose(traffic["visits"], model="additive", period=7)
print(round(decomp.seasonal.max() - decomp.seasonal.min(), 2))"""),
        S("num", "pandas", """
Add a column `conv_rate` = signups / visits × 100 (percent). Which calendar month has the
highest mean `conv_rate`? Print the month number and that mean rounded to 3 decimals,
separated by a space.""", """
traffic["conv_rate"] = traffic["signups"] / traffic["visits"] * 100
by_month = traffic["conv_rate"].groupby(traffic.index.month).mean()
print(by_month.idxmax(), round(by_month.max(), 3))"""),
        S("text", "pandas", """
Which day of the week has the lowest mean number of visits? Print a sentence of the form 'Visits
are lowest on <Weekday>.' with the English weekday name (e.g. Monday).""", """
low = traffic["visits"].groupby(traffic.index.day_name()).mean().idxmin()
print(f"Visits are lowest on {low}.")"""),
    ])

TASKS = [reviews, traffic]
