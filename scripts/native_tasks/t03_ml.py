# ruff: noqa: E501  (instructions and reference code are task text, kept as a user would write them)
from native_tasks import S, Task

penguins = Task(
    "penguins-clustering", "Penguins: cleaning, plotting and k-means clustering", "sklearn", "medium", [
        S("num", "pandas", """
Load seaborn's `penguins` data set with `sns.load_dataset("penguins")` into `penguins`. How many
rows have at least one missing value?""", """
import seaborn as sns
penguins = sns.load_dataset("penguins")
int(penguins.isna().any(axis=1).sum())"""),
        S("num", "pandas", """
Drop those rows into a new DataFrame `peng` with a fresh index (0, 1, 2, …). How many rows
does `peng` have?""", """
peng = penguins.dropna().reset_index(drop=True)
len(peng)"""),
        S("num", "pandas", """
Print the mean `body_mass_g` per species in `peng`, rounded to 1 decimal, species in
alphabetical order, one `species value` pair per line.""", """
for sp, value in peng.groupby("species")["body_mass_g"].mean().round(1).items():
    print(sp, value)"""),
        S("vis", "seaborn", """
Draw a seaborn scatter plot of `bill_length_mm` (y) against `flipper_length_mm` (x) for `peng`,
one colour per species (hue), titled 'Penguin measurements'.""", """
import matplotlib.pyplot as plt
plt.figure(figsize=(6, 4))
sns.scatterplot(data=peng, x="flipper_length_mm", y="bill_length_mm", hue="species")
plt.title("Penguin measurements")
plt.show()"""),
        S("check", "sklearn", """
Standardise the four measurement columns (`bill_length_mm`, `bill_depth_mm`,
`flipper_length_mm`, `body_mass_g`, in that order) with `StandardScaler` into a NumPy array
`X_scaled`. Fit `KMeans(n_clusters=3, n_init=10, random_state=0)` on it, call the fitted model
`kmeans`, and store its labels in a new column `cluster` of `peng`.""", """
from sklearn.cluster import KMeans
from sklearn.preprocessing import StandardScaler
cols = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
X_scaled = StandardScaler().fit_transform(peng[cols])
kmeans = KMeans(n_clusters=3, n_init=10, random_state=0).fit(X_scaled)
peng["cluster"] = kmeans.labels_""", """
import numpy as _np
assert X_scaled.shape == (333, 4) and _np.allclose(X_scaled.mean(axis=0), 0, atol=1e-9)
assert kmeans.n_clusters == 3 and "cluster" in peng.columns
assert sorted(peng["cluster"].unique()) == [0, 1, 2]"""),
        S("num", "sklearn", """
How well do the clusters match the species? Print the adjusted Rand index between
`peng["species"]` and `peng["cluster"]`, rounded to 3 decimals.""", """
from sklearn.metrics import adjusted_rand_score
print(round(adjusted_rand_score(peng["species"], peng["cluster"]), 3))"""),
        S("num", "pandas", """
Print the silhouette score of the clustering on `X_scaled` (`sklearn.metrics.silhouette_score`),
rounded to 3 decimals, and the number of penguins in the largest cluster, separated by a space.""", """
from sklearn.metrics import silhouette_score
print(round(silhouette_score(X_scaled, peng["cluster"]), 3), int(peng["cluster"].value_counts().max()))"""),
    ])

wine = Task(
    "wine-classification", "Wine cultivars: SVM and random forest", "sklearn", "medium", [
        S("num", "sklearn", """
Load the wine data set with `sklearn.datasets.load_wine(as_frame=True)`; call the feature
DataFrame `X` and the target Series `y`. Print the number of samples, the number of features,
and then the number of samples of classes 0, 1 and 2, all separated by spaces.""", """
from sklearn.datasets import load_wine
data = load_wine(as_frame=True)
X, y = data.data, data.target
counts = y.value_counts().sort_index()
print(X.shape[0], X.shape[1], *counts.tolist())"""),
        S("check", "sklearn", """
Split the data with `train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)` into
`X_train`, `X_test`, `y_train`, `y_test`.""", """
from sklearn.model_selection import train_test_split
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)""", """
assert X_train.shape == (124, 13) and X_test.shape == (54, 13), (X_train.shape, X_test.shape)
assert sorted(y_test.value_counts().tolist()) == [15, 18, 21], y_test.value_counts().tolist()"""),
        S("num", "sklearn", """
Make a pipeline `pipe` of `StandardScaler()` followed by `SVC()` (default parameters), fit it on
the training set and print its test accuracy rounded to 4 decimals.""", """
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
pipe = make_pipeline(StandardScaler(), SVC()).fit(X_train, y_train)
print(round(pipe.score(X_test, y_test), 4))"""),
        S("num", "sklearn", """
Fit a `RandomForestClassifier(n_estimators=200, random_state=0)` called `rf` on the training
set and print its test accuracy rounded to 4 decimals.""", """
from sklearn.ensemble import RandomForestClassifier
rf = RandomForestClassifier(n_estimators=200, random_state=0).fit(X_train, y_train)
print(round(rf.score(X_test, y_test), 4))"""),
        S("text", "sklearn", """
Print the names of the three most important features of `rf` (by `feature_importances_`, most
important first), separated by commas and spaces.""", """
import pandas as pd
imp = pd.Series(rf.feature_importances_, index=X.columns).sort_values(ascending=False)
print(", ".join(imp.index[:3]))"""),
        S("vis", "sklearn", """
Plot the confusion matrix of `rf` on the test set with
`ConfusionMatrixDisplay.from_estimator`, titled 'Random forest confusion matrix'.""", """
import matplotlib.pyplot as plt
from sklearn.metrics import ConfusionMatrixDisplay
ConfusionMatrixDisplay.from_estimator(rf, X_test, y_test)
plt.title("Random forest confusion matrix")
plt.show()"""),
        S("num", "sklearn", """
Evaluate a fresh copy of the same pipeline (StandardScaler + SVC) with 5-fold cross-validation
on all of `X`, `y`, using `StratifiedKFold(n_splits=5, shuffle=True, random_state=0)`. Print the
mean accuracy rounded to 4 decimals.""", """
from sklearn.model_selection import StratifiedKFold, cross_val_score
cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
scores = cross_val_score(make_pipeline(StandardScaler(), SVC()), X, y, cv=cv)
print(round(scores.mean(), 4))"""),
    ])

diabetes = Task(
    "diabetes-regression", "Diabetes progression: linear and ridge regression", "sklearn", "medium", [
        S("num", "sklearn", """
Load `sklearn.datasets.load_diabetes(as_frame=True)` and keep its `frame` (ten features and the
`target` column) as `df`. Print the number of rows, the number of columns and the mean target
rounded to 2 decimals, separated by spaces.""", """
from sklearn.datasets import load_diabetes
df = load_diabetes(as_frame=True).frame
print(df.shape[0], df.shape[1], round(df["target"].mean(), 2))"""),
        S("num", "pandas", """
Which feature has the largest absolute Pearson correlation with `target`? Print its name and
the correlation rounded to 3 decimals, separated by a space.""", """
corr = df.corr()["target"].drop("target")
best = corr.abs().idxmax()
print(best, round(corr[best], 3))"""),
        S("check", "sklearn", """
Let `X` be the ten feature columns and `y` the target. Split with
`train_test_split(X, y, test_size=0.2, random_state=1)` into `X_train`, `X_test`, `y_train`,
`y_test`, and fit a `LinearRegression` called `lin` on the training set.""", """
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import train_test_split
X = df.drop(columns="target")
y = df["target"]
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=1)
lin = LinearRegression().fit(X_train, y_train)""", """
from sklearn.linear_model import LinearRegression as _LR
assert isinstance(lin, _LR) and X_test.shape == (89, 10), X_test.shape
assert abs(lin.score(X_train, y_train) - 0.5332) < 0.01, lin.score(X_train, y_train)"""),
        S("num", "sklearn", """
Evaluate `lin` on the test set: print the R² rounded to 4 decimals and the root mean squared
error rounded to 2 decimals, separated by a space.""", """
import numpy as np
from sklearn.metrics import mean_squared_error, r2_score
pred = lin.predict(X_test)
print(round(r2_score(y_test, pred), 4), round(float(np.sqrt(mean_squared_error(y_test, pred))), 2))"""),
        S("num", "sklearn", """
Fit `RidgeCV(alphas=np.logspace(-3, 3, 13))` called `ridge` on the training set. Print the
chosen alpha rounded to 4 decimals and the test R² rounded to 4 decimals, separated by a space.""", """
from sklearn.linear_model import RidgeCV
ridge = RidgeCV(alphas=np.logspace(-3, 3, 13)).fit(X_train, y_train)
print(round(float(ridge.alpha_), 4), round(ridge.score(X_test, y_test), 4))"""),
        S("vis", "matplotlib", """
Draw a scatter plot of the predictions of `lin` (y) against the true test targets (x), with a
dashed red diagonal line from 25 to 350 for perfect predictions, x label 'true', y label
'predicted', title 'Linear regression on the test set'.""", """
import matplotlib.pyplot as plt
plt.figure(figsize=(5, 5))
plt.scatter(y_test, pred)
plt.plot([25, 350], [25, 350], "r--")
plt.xlabel("true")
plt.ylabel("predicted")
plt.title("Linear regression on the test set")
plt.show()"""),
    ])

digits = Task(
    "digits-pca", "Handwritten digits: PCA and nearest neighbours", "sklearn", "medium", [
        S("num", "sklearn", """
Load `sklearn.datasets.load_digits()` into `digits`. Print the shape of `digits.images` and the
shape of `digits.data`.""", """
from sklearn.datasets import load_digits
digits = load_digits()
print(digits.images.shape, digits.data.shape)"""),
        S("vis", "matplotlib", """
Show the first 10 images in a 2×5 grid of subplots (grey colormap `gray_r`, no axes), each
titled with its label.""", """
import matplotlib.pyplot as plt
fig, axes = plt.subplots(2, 5, figsize=(8, 4))
for ax, image, label in zip(axes.ravel(), digits.images[:10], digits.target[:10]):
    ax.imshow(image, cmap="gray_r")
    ax.set_title(str(label))
    ax.axis("off")
plt.show()"""),
        S("num", "sklearn", """
Fit `PCA(n_components=2, random_state=0)` on `digits.data` and project the data into `Z`. What
fraction of the variance do the two components explain together? Round to 4 decimals.""", """
from sklearn.decomposition import PCA
pca2 = PCA(n_components=2, random_state=0)
Z = pca2.fit_transform(digits.data)
round(float(pca2.explained_variance_ratio_.sum()), 4)"""),
        S("vis", "matplotlib", """
Scatter-plot `Z` (first component on x, second on y), coloured by the digit label with the
colormap 'tab10' and a colour bar, titled 'Digits in two principal components'.""", """
plt.figure(figsize=(7, 5))
plt.scatter(Z[:, 0], Z[:, 1], c=digits.target, cmap="tab10", s=8)
plt.colorbar()
plt.title("Digits in two principal components")
plt.show()"""),
        S("num", "sklearn", """
Fit a PCA with all components on `digits.data`. What is the smallest number of components whose
cumulative explained variance ratio reaches at least 0.90? Store it in `k`.""", """
import numpy as np
full = PCA(random_state=0).fit(digits.data)
k = int(np.argmax(np.cumsum(full.explained_variance_ratio_) >= 0.90) + 1)
k"""),
        S("num", "sklearn", """
Split `digits.data` and `digits.target` with `train_test_split(test_size=0.25, random_state=0)`.
Fit `PCA(n_components=k, random_state=0)` on the training images only, transform both sets and
train `KNeighborsClassifier(n_neighbors=3)` on the reduced training set. Print the test
accuracy rounded to 4 decimals.""", """
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
X_train, X_test, y_train, y_test = train_test_split(digits.data, digits.target, test_size=0.25, random_state=0)
pca_k = PCA(n_components=k, random_state=0).fit(X_train)
knn = KNeighborsClassifier(n_neighbors=3).fit(pca_k.transform(X_train), y_train)
print(round(knn.score(pca_k.transform(X_test), y_test), 4))"""),
        S("text", "sklearn", """
Which digit does `knn` misclassify most often on the test set (the true label with the most
errors; the smallest digit if tied)? Print a sentence of the form 'The hardest digit is <d>.'""", """
pred = knn.predict(pca_k.transform(X_test))
errors = np.bincount(y_test[pred != y_test], minlength=10)
print(f"The hardest digit is {int(np.argmax(errors))}.")"""),
    ])

TASKS = [penguins, wine, diabetes, digits]
