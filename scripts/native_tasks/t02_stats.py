# ruff: noqa: E501  (instructions and reference code are task text, kept as a user would write them)
from native_tasks import S, Task

tips = Task(
    "tips-statistics", "Restaurant tips: descriptive statistics, a t-test and OLS", "scipy", "medium", [
        S("num", "seaborn", """
Load seaborn's `tips` data set with `sns.load_dataset("tips")` into a DataFrame `tips`. Print its
number of rows and number of columns, separated by a space.""", """
import seaborn as sns
tips = sns.load_dataset("tips")
print(tips.shape[0], tips.shape[1])"""),
        S("num", "pandas", """
Add a column `tip_pct`: the tip as a percentage of the total bill (`tip / total_bill * 100`).
What is the mean `tip_pct`, rounded to 2 decimals?""", """
tips["tip_pct"] = tips["tip"] / tips["total_bill"] * 100
round(tips["tip_pct"].mean(), 2)"""),
        S("num", "pandas", """
Print the mean `tip_pct` per day, rounded to 2 decimals, in the order Thur, Fri, Sat, Sun, one
`day value` pair per line.""", """
by_day = tips.groupby("day", observed=True)["tip_pct"].mean().round(2)
for day in ["Thur", "Fri", "Sat", "Sun"]:
    print(day, by_day[day])"""),
        S("num", "scipy", """
Do smokers and non-smokers tip a different percentage? Run Welch's t-test
(`scipy.stats.ttest_ind` with `equal_var=False`) of `tip_pct` for smokers (`smoker == "Yes"`,
first sample) against non-smokers. Print the t statistic and the p-value, each rounded to 4
decimals, separated by a space; keep the p-value in a variable `p_value` (unrounded).""", """
from scipy import stats
res = stats.ttest_ind(tips.loc[tips["smoker"] == "Yes", "tip_pct"],
                      tips.loc[tips["smoker"] == "No", "tip_pct"], equal_var=False)
p_value = res.pvalue
print(round(float(res.statistic), 4), round(float(p_value), 4))"""),
        S("vis", "seaborn", """
Draw a seaborn box plot of `tip_pct` per `day` (x, order Thur, Fri, Sat, Sun) with one box per
`sex` (hue), titled 'Tip percentage by day'.""", """
import matplotlib.pyplot as plt
plt.figure(figsize=(7, 4))
sns.boxplot(data=tips, x="day", y="tip_pct", hue="sex", order=["Thur", "Fri", "Sat", "Sun"])
plt.title("Tip percentage by day")
plt.show()"""),
        S("num", "statsmodels", """
Fit an ordinary least squares model with statsmodels' formula API, `tip ~ total_bill + size`,
and call it `ols`. Print its three coefficients (Intercept, total_bill, size) rounded to 4
decimals, one `name value` pair per line, then its R-squared rounded to 4 decimals.""", """
import statsmodels.formula.api as smf
ols = smf.ols("tip ~ total_bill + size", data=tips).fit()
for name, value in ols.params.round(4).items():
    print(name, value)
print(round(ols.rsquared, 4))"""),
        S("text", "python", """
Using `p_value` from the t-test, print exactly one of these sentences: 'The tip percentage of
smokers and non-smokers differs significantly at the 5% level.' if p < 0.05, otherwise 'There is
no significant difference in tip percentage between smokers and non-smokers at the 5% level.'""", """
if p_value < 0.05:
    print("The tip percentage of smokers and non-smokers differs significantly at the 5% level.")
else:
    print("There is no significant difference in tip percentage between smokers and non-smokers at the 5% level.")"""),
    ])

ab = Task(
    "ab-test-conversions", "An A/B test of a checkout page", "scipy", "medium", [
        S("num", "pandas", """
File path: `data/ab_test.csv` (one row per user: `variant`, `device`, `converted` 0/1, `spend`).

Load it into a DataFrame `ab`. Print the number of users in variant A and in variant B,
separated by a space.""", """
import pandas as pd
ab = pd.read_csv("data/ab_test.csv")
counts = ab["variant"].value_counts()
print(counts["A"], counts["B"])"""),
        S("num", "pandas", """
What is the conversion rate of each variant, in percent? Print A's and B's rates rounded to 2
decimals, separated by a space.""", """
rates = ab.groupby("variant")["converted"].mean() * 100
print(round(rates["A"], 2), round(rates["B"], 2))"""),
        S("num", "scipy", """
Test whether conversion depends on the variant: build the 2×2 contingency table
(`pd.crosstab(ab["variant"], ab["converted"])`) and run `scipy.stats.chi2_contingency` on it
(default Yates correction). Print the chi-square statistic rounded to 3 decimals and the p-value
rounded to 4 decimals, separated by a space.""", """
from scipy.stats import chi2_contingency
table = pd.crosstab(ab["variant"], ab["converted"])
chi2, p_chi, dof, expected = chi2_contingency(table)
print(round(float(chi2), 3), round(float(p_chi), 4))"""),
        S("num", "statsmodels", """
Run a two-sided two-proportion z-test with
`statsmodels.stats.proportion.proportions_ztest`, passing the conversions and the user counts
in the order B, A. Store the p-value in `p_z` and print the z statistic and `p_z`, each rounded
to 4 decimals, separated by a space.""", """
from statsmodels.stats.proportion import proportions_ztest
conv = ab.groupby("variant")["converted"].sum()
nobs = ab.groupby("variant")["converted"].count()
z, p_z = proportions_ztest([conv["B"], conv["A"]], [nobs["B"], nobs["A"]])
print(round(float(z), 4), round(float(p_z), 4))"""),
        S("num", "scipy", """
Among the users who converted only, compare `spend` between the variants: print the mean spend
of A and of B (rounded to 2 decimals) and the p-value of a two-sided Mann-Whitney U test
(`scipy.stats.mannwhitneyu`, A first) rounded to 4 decimals, all separated by spaces.""", """
from scipy.stats import mannwhitneyu
buyers = ab[ab["converted"] == 1]
spend_a = buyers.loc[buyers["variant"] == "A", "spend"]
spend_b = buyers.loc[buyers["variant"] == "B", "spend"]
u = mannwhitneyu(spend_a, spend_b, alternative="two-sided")
print(round(spend_a.mean(), 2), round(spend_b.mean(), 2), round(float(u.pvalue), 4))"""),
        S("vis", "seaborn", """
Draw a seaborn bar plot of the conversion rate (mean of `converted`) per `variant` (x, order A,
B) with one bar per `device` (hue, order desktop, mobile), without error bars, titled
'Conversion by variant and device'.""", """
import matplotlib.pyplot as plt
import seaborn as sns
plt.figure(figsize=(6, 4))
sns.barplot(data=ab, x="variant", y="converted", hue="device", order=["A", "B"],
            hue_order=["desktop", "mobile"], errorbar=None)
plt.title("Conversion by variant and device")
plt.show()"""),
        S("text", "python", """
Using `p_z`, print exactly one sentence: 'Variant B converts significantly better than A.' if
p_z < 0.05 and B's conversion rate is higher, otherwise 'No significant improvement from B.'""", """
if p_z < 0.05 and rates["B"] > rates["A"]:
    print("Variant B converts significantly better than A.")
else:
    print("No significant improvement from B.")"""),
    ])

titanic = Task(
    "titanic-survival", "Titanic: survival rates and a logistic regression", "sklearn", "medium", [
        S("num", "pandas", """
Load seaborn's `titanic` data set with `sns.load_dataset("titanic")` into `titanic`. What
percentage of passengers survived? Round to 2 decimals.""", """
import seaborn as sns
titanic = sns.load_dataset("titanic")
round(titanic["survived"].mean() * 100, 2)"""),
        S("num", "pandas", """
Make a table `rates` of the survival rate (mean of `survived`) with `sex` as rows and `pclass`
as columns, rounded to 3 decimals, and print it.""", """
rates = titanic.pivot_table(index="sex", columns="pclass", values="survived", aggfunc="mean").round(3)
print(rates)"""),
        S("num", "pandas", """
How many `age` values are missing? Print that count, then fill each missing age with the median
age of the passengers of the same `sex` and `pclass`, and print the mean age afterwards rounded
to 2 decimals (the two numbers separated by a space).""", """
n_missing = int(titanic["age"].isna().sum())
titanic["age"] = titanic["age"].fillna(titanic.groupby(["sex", "pclass"])["age"].transform("median"))
print(n_missing, round(titanic["age"].mean(), 2))"""),
        S("vis", "seaborn", """
Draw a seaborn bar plot of the survival rate per `pclass` (x) with one bar per `sex` (hue,
order female, male), without error bars, titled 'Survival rate by class and sex'.""", """
import matplotlib.pyplot as plt
plt.figure(figsize=(6, 4))
sns.barplot(data=titanic, x="pclass", y="survived", hue="sex", hue_order=["female", "male"],
            errorbar=None)
plt.title("Survival rate by class and sex")
plt.show()"""),
        S("check", "sklearn", """
Build the features `X`: the columns `pclass`, `age`, `sibsp`, `parch`, `fare` and a column
`is_male` (1 for male, 0 for female), in that order; the target `y` is `survived`. Split them with
`train_test_split(X, y, test_size=0.25, random_state=42, stratify=y)` into `X_train`, `X_test`,
`y_train`, `y_test`.""", """
from sklearn.model_selection import train_test_split
X = titanic[["pclass", "age", "sibsp", "parch", "fare"]].copy()
X["is_male"] = (titanic["sex"] == "male").astype(int)
y = titanic["survived"]
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=42, stratify=y)""", """
assert list(X.columns) == ["pclass", "age", "sibsp", "parch", "fare", "is_male"], list(X.columns)
assert X_train.shape == (668, 6) and X_test.shape == (223, 6), (X_train.shape, X_test.shape)
assert X["age"].notna().all() and int(X["is_male"].sum()) == 577"""),
        S("num", "sklearn", """
Train a `LogisticRegression(max_iter=1000)` called `clf` on the training set. What is its
accuracy on the test set, rounded to 4 decimals?""", """
from sklearn.linear_model import LogisticRegression
clf = LogisticRegression(max_iter=1000).fit(X_train, y_train)
round(clf.score(X_test, y_test), 4)"""),
        S("num", "sklearn", """
What is the ROC AUC of `clf` on the test set (from the predicted probability of survival),
rounded to 4 decimals?""", """
from sklearn.metrics import roc_auc_score
round(roc_auc_score(y_test, clf.predict_proba(X_test)[:, 1]), 4)"""),
        S("text", "sklearn", """
Which feature has the coefficient with the largest absolute value in `clf`? Print a sentence of
the form 'The most influential feature is <name>.'""", """
import pandas as pd
coefs = pd.Series(clf.coef_[0], index=X.columns)
print(f"The most influential feature is {coefs.abs().idxmax()}.")"""),
    ])

flights = Task(
    "flights-heatmap", "Airline passengers 1949–1960: pivot and heatmap", "seaborn", "easy", [
        S("num", "seaborn", """
Load seaborn's `flights` data set with `sns.load_dataset("flights")` into `flights`. How many
passengers flew in 1960 in total?""", """
import seaborn as sns
flights = sns.load_dataset("flights")
int(flights.loc[flights["year"] == 1960, "passengers"].sum())"""),
        S("check", "pandas", """
Pivot `flights` into a DataFrame `table` with one row per month (in calendar order, Jan first),
one column per year, and the passengers as values.""", """
table = flights.pivot_table(index="month", columns="year", values="passengers", observed=False)
table.head()""", """
assert table.shape == (12, 12), table.shape
assert [str(m) for m in table.index][:3] == ["Jan", "Feb", "Mar"], list(table.index)
assert int(table.loc["Jul", 1960]) == 622"""),
        S("vis", "seaborn", """
Draw a seaborn heatmap of `table` with the colormap 'YlGnBu', titled 'Monthly passengers'.""", """
import matplotlib.pyplot as plt
plt.figure(figsize=(9, 6))
sns.heatmap(table, cmap="YlGnBu")
plt.title("Monthly passengers")
plt.show()"""),
        S("num", "pandas", """
Which month has the highest mean number of passengers over the twelve years? Print the month
and that mean rounded to 1 decimal, separated by a space.""", """
means = table.mean(axis=1)
print(means.idxmax(), round(means.max(), 1))"""),
        S("num", "pandas", """
Compute the yearly totals as a Series `yearly` (index: year). By how many percent did the total
grow from 1959 to 1960? Round to 2 decimals.""", """
yearly = flights.groupby("year")["passengers"].sum()
round((yearly[1960] / yearly[1959] - 1) * 100, 2)"""),
        S("vis", "matplotlib", """
Plot `yearly` as a line with circle markers (matplotlib), titled 'Passengers per year', x label
'year', y label 'passengers'.""", """
plt.figure(figsize=(7, 4))
plt.plot(yearly.index, yearly.values, marker="o")
plt.title("Passengers per year")
plt.xlabel("year")
plt.ylabel("passengers")
plt.show()"""),
    ])

TASKS = [tips, ab, titanic, flights]
